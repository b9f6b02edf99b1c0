//! Prints the JSON Schema of the protocol; `protocol/schema.json` is its output.
fn main() {
    let text =
        serde_json::to_string_pretty(&convene_protocol::schema()).expect("schema serializes");
    println!("{text}");
}
