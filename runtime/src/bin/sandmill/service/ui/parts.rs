//! Small pieces several pages show: a job's state badge, a phase's progress, a version's
//! files.

use super::format;
use super::model::{DatasetFile, JobState, PhaseProgress};
use maud::{Markup, html};

/// A job's state as a colored badge (`.state-NAME` in `sandmill.css`).
pub(super) fn state_badge(state: JobState) -> Markup {
    html! { span.badge.(format!("state-{}", state.name())) { (state.name()) } }
}

/// `done/tasks` of a phase, or `—` before it is planned.
pub(super) fn phase_count(phase: PhaseProgress) -> String {
    if phase.tasks == 0 {
        "—".to_owned()
    } else {
        format!("{}/{}", phase.done, phase.tasks)
    }
}

/// The files of a version of dataset `name` (`None`: the current one) as a table `#files`,
/// each a link that downloads it; `empty` when there are none.
pub(super) fn files_table(
    name: &str,
    version: Option<&str>,
    files: &[DatasetFile],
    empty: &str,
) -> Markup {
    let query = version.map_or_else(String::new, |v| format!("?version={}", format::url_path(v)));
    html! {
        @if files.is_empty() {
            p.muted #files { (empty) }
        } @else {
            table #files {
                thead { tr { th { "File" } th.num { "Size" } } }
                tbody {
                    @for file in files {
                        tr {
                            td.mono {
                                a href={ "/v1/datasets/" (format::url_path(name)) "/files/"
                                    (format::url_path(&file.path)) (query) } { (file.path) }
                            }
                            td.num { (format::bytes(file.bytes)) }
                        }
                    }
                }
            }
        }
    }
}
