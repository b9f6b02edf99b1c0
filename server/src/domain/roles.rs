//! Who may send which command: one allow-list per command, enforced here, on the server.

use super::{Command, Role};

/// Who may issue a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Only an organizer, through the HTTP API.
    Organizer,
    /// Only the server's own timer.
    Timer,
    /// Only the public audience, through the public link (a public poll's ballot).
    Public,
    /// Participants holding any of these roles. A guarantor is never in any list but
    /// `Visit`'s: guarantors observe, they never act.
    Roles(&'static [Role]),
}

const SPEAKERS: &[Role] = &[
    Role::Citizen,
    Role::Facilitator,
    Role::Rapporteur,
    Role::Expert,
];
const FACILITATORS: &[Role] = &[Role::Facilitator];
const CALLERS: &[Role] = &[Role::Citizen, Role::Rapporteur, Role::Expert];
const VOTERS: &[Role] = &[
    Role::Citizen,
    Role::Facilitator,
    Role::Rapporteur,
    Role::Expert,
];
const ANSWERERS: &[Role] = &[Role::Facilitator, Role::Expert];
const EDITORS: &[Role] = &[Role::Facilitator, Role::Rapporteur];
const VISITORS: &[Role] = &[Role::Facilitator, Role::Guarantor];
/// Who asks and supports questions in a hearing (in its room): never a guarantor. An
/// expert is heard, and does not ask.
const QUESTIONERS: &[Role] = &[Role::Citizen, Role::Facilitator, Role::Rapporteur];

pub fn allowed(command: &Command) -> Permission {
    use Command::*;
    match command {
        CreateConvention { .. }
        | AddParticipants { .. }
        | IssueInvites { .. }
        | RevokeInvite { .. } => Permission::Organizer,
        // Public audience (§24).
        CreatePublicLink { .. } | RevokePublicLink | SetLivestream { .. } => Permission::Organizer,
        PublishDocument { .. } | OpenPublicPoll { .. } | ClosePublicPoll { .. } => {
            Permission::Roles(FACILITATORS)
        }
        CastPublicBallot { .. } => Permission::Public,
        Tick => Permission::Timer,
        CreateRooms { .. }
        | ClearRooms
        | AssignRooms { .. }
        | OpenBreakouts { .. }
        | ExtendBreakouts { .. }
        | CloseBreakouts
        | Broadcast { .. }
        | MoveParticipant { .. }
        | ResolveCall { .. }
        | GiveFloor { .. }
        | EndFloor { .. }
        | SetQueueOrder { .. }
        | SetSpeakingLimit { .. }
        | SetFloorLimit { .. }
        | DraftPoll { .. }
        | EditPoll { .. }
        | DeletePoll { .. }
        | OpenPoll { .. }
        | ClosePoll { .. }
        | RevealResults { .. }
        | PublishResults { .. } => Permission::Roles(FACILITATORS),
        PlanRotation { .. }
        | StartRotation
        | PauseRotation
        | ResumeRotation
        | ExtendRound { .. }
        | SkipRound
        | StopRotation
        | MarkExpertAbsent { .. }
        | AddToGroup { .. } => Permission::Roles(FACILITATORS),
        AskQuestion { .. } => Permission::Roles(SPEAKERS),
        CreateDocument { .. }
        | SetWritingGroup { .. }
        | OpenDocument { .. }
        | CloseDocument { .. } => Permission::Roles(FACILITATORS),
        NameVersion { .. } => Permission::Roles(EDITORS),
        // Run sheet.
        AddSequence { .. }
        | EditSequence { .. }
        | DeleteSequence { .. }
        | MoveSequence { .. }
        | StartSequence { .. }
        | ExtendSequence { .. }
        | EndSequence
        | SkipSequence { .. } => Permission::Roles(FACILITATORS),
        // The expert of the room (checked by the rotation) or a facilitator.
        AnswerQuestion { .. } => Permission::Roles(ANSWERERS),
        // Each poll narrows this to its own list of voters; guarantors never vote.
        Vote { .. } => Permission::Roles(VOTERS),
        Visit { .. } => Permission::Roles(VISITORS),
        SendChat { .. } | RaiseHand { .. } | LowerHand | YieldFloor => Permission::Roles(SPEAKERS),
        CallFacilitator { .. } => Permission::Roles(CALLERS),
        // Hearings: questions from the floor.
        CreateHearing { .. }
        | OpenHearing { .. }
        | CloseHearing { .. }
        | ApproveQuestion { .. }
        | MergeQuestion { .. }
        | HideQuestion { .. }
        | MarkAnswering { .. }
        | MarkAnswered { .. } => Permission::Roles(FACILITATORS),
        AskHearingQuestion { .. } | SupportQuestion { .. } | WithdrawSupport { .. } => {
            Permission::Roles(QUESTIONERS)
        }
        // Moderation: facilitators act; everyone but guarantors may report a message.
        HideChat { .. }
        | UnhideChat { .. }
        | DismissReport { .. }
        | Mute { .. }
        | Unmute { .. }
        | RemoveParticipant { .. }
        | Readmit { .. } => Permission::Roles(FACILITATORS),
        ReportChat { .. } => Permission::Roles(SPEAKERS),
    }
}

impl Permission {
    /// Whether a participant with these roles passes. A guarantor passes only lists that
    /// name the guarantor role, whatever other role the roster gives them (it gives none:
    /// the roster refuses a guarantor with another role).
    pub fn admits(&self, roles: &[Role]) -> bool {
        match self {
            Permission::Organizer | Permission::Timer | Permission::Public => false,
            Permission::Roles(list) => {
                if roles.contains(&Role::Guarantor) {
                    list.contains(&Role::Guarantor)
                } else {
                    roles.iter().any(|r| list.contains(r))
                }
            }
        }
    }
}
