// Attendance (issue #17), in the guarantor's view: time present per participant and day,
// headcount per day and per roster attribute value, read from the organizer API with the
// guarantor's own token in a header (download.jsx), and downloadable as CSV. Nobody else's
// view shows it: the server refuses other roles.

import { useState, useEffect } from 'preact/hooks';
import { t, fmtPercent, fmtTime, locale } from '../i18n.js';
import { ExportButton, apiFetch, sheetPath } from './download.jsx';
import { ShareBar } from './common.jsx';

function attrLabel(k) {
  const key = `attr.${k}`;
  const v = t(key);
  return v === key ? k : v;
}

/** A time of day in UTC, as the report's days are UTC days. */
function utcTime(at) {
  return fmtTime(at, { utc: true });
}

/** A report's day ("2026-12-07", a UTC day) in words: « Lundi 7 décembre 2026 ». */
export function dayWords(day) {
  const [y, m, d] = String(day).split('-').map(Number);
  if (!y || !m || !d) return day;
  const s = new Intl.DateTimeFormat(locale(), { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, d)));
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function AttendanceView({ client }) {
  const id = client.snap.convention.id;
  const path = `/api/conventions/${encodeURIComponent(id)}/attendance`;
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  // The day shown: the latest by default (a convention's weekend spans a few days).
  const [day, setDay] = useState(null);
  const load = async () => {
    try {
      const r = await apiFetch(client, path);
      if (!r.ok) throw new Error(String(r.status));
      setReport(await r.json());
      setError(null);
    } catch (err) {
      setError(String(err.message || err));
    }
  };
  useEffect(() => {
    load();
  }, []);
  const days = report ? report.days.map((d) => d.day) : [];
  const shown = day && days.includes(day) ? day : days[days.length - 1];
  const total = report ? report.days.find((d) => d.day === shown) : null;
  const rows = report ? report.participants.filter((r) => r.day === shown) : [];
  const byAttr = report ? report.by_attribute.filter((b) => b.day === shown) : [];
  // Each group's attendance against the day's: who drops out shows at a glance.
  const dayShare = total && total.roster ? total.present / total.roster : 0;
  return (
    <div class="attendance" data-testid="attendance">
      <p class="small muted">{t('attendance.explain', { days: report ? report.retention_days : 365 })}</p>
      <div class="row wrap">
        <button type="button" class="btn small" onClick={load}>{t('attendance.refresh')}</button>
        <ExportButton client={client} small path={sheetPath(path)} filename={`attendance-${id}.xlsx`}>{t('attendance.xlsx')}</ExportButton>
        <ExportButton client={client} small path={sheetPath(`${path}?table=attributes`)} filename={`attendance-${id}-attributes.xlsx`}>{t('attendance.xlsx_attributes')}</ExportButton>
        <ExportButton client={client} small path={`${path}?format=csv`} filename={`attendance-${id}.csv`}>{t('attendance.csv')}</ExportButton>
        <ExportButton client={client} small path={`${path}?format=csv&table=attributes`} filename={`attendance-${id}-attributes.csv`}>{t('attendance.csv_attributes')}</ExportButton>
      </div>
      {days.length > 1 ? (
        <p>
          <label>{t('attendance.day')}{' '}
            <select value={shown} onChange={(e) => setDay(e.currentTarget.value)} data-testid="attendance-day">
              {days.map((d) => <option key={d} value={d}>{dayWords(d)}</option>)}
            </select>
          </label>
        </p>
      ) : null}
      {total ? <p data-testid="attendance-total">{t('attendance.total', { day: dayWords(total.day), n: total.present, roster: total.roster })}</p> : null}
      {error ? <p class="warn-text" role="alert">{t('attendance.load_error')}</p> : null}
      {!report && !error ? <p class="muted">{t('common.loading')}</p> : null}
      {report && !days.length ? <p class="muted">{t('attendance.none')}</p> : null}
      {/* The tables hold the day above them, once, in words (each row repeated
          « 2026-12-07 », and on a phone the names had no room left). */}
      {rows.length ? (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={t('attendance.by_person')}>
          <table class="attendance-people">
            <caption class="sr-only">{t('attendance.by_person')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('attendance.name')}</th>
                <th scope="col">{t('attendance.minutes')}</th>
                <th scope="col">{t('attendance.sessions')}</th>
                <th scope="col">{t('attendance.arrival')}</th>
                <th scope="col">{t('attendance.departure')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.day}/${r.participant}`} data-participant={r.participant}>
                  <th scope="row">{r.name || r.participant}</th>
                  <td>{r.minutes}</td>
                  <td>{r.sessions}</td>
                  <td>{utcTime(r.first_arrival)}</td>
                  <td>{utcTime(r.last_departure)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {byAttr.length ? (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={t('attendance.by_attribute')}>
          <table class="attendance-attributes">
            <caption class="sr-only">{t('attendance.by_attribute')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('attendance.attribute')}</th>
                <th scope="col">{t('attendance.value')}</th>
                <th scope="col">{t('attendance.present')}</th>
                <th scope="col">{t('attendance.share')}</th>
              </tr>
            </thead>
            <tbody>
              {byAttr.map((b) => (
                <tr key={`${b.day}/${b.attribute}/${b.value}`} data-group={`${b.attribute}/${b.value}`}>
                  <td>{attrLabel(b.attribute)}</td>
                  <th scope="row">{b.value}</th>
                  <td>{t('attendance.present_of', { n: b.present, roster: b.roster })}</td>
                  <td class="attendance-share">
                    <ShareBar value={b.share / 100} mark={dayShare} />
                    <span class="share-text">{fmtPercent(b.share / 100)}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="small muted attendance-legend">{t('attendance.legend', { share: fmtPercent(dayShare) })}</p>
        </div>
      ) : null}
    </div>
  );
}
