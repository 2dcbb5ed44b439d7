//! Small pieces several pages show: a job's state badge, a phase's progress.

use super::model::{JobState, PhaseProgress};
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
