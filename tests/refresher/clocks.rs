//! Clocks for the refresher tests: Tokio's paused clock with a wall-clock
//! offset the test can step, as a laptop waking up, a paused VM or a
//! stepped NTP clock do.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, TokioClock};

/// Follows Tokio's (paused) clock from `start`, plus whatever the test
/// jumped. Create it inside the runtime.
#[derive(Debug)]
pub struct SteppedClock {
    base: TokioClock,
    jumped: Mutex<Duration>,
    stepped_back: Mutex<Duration>,
}

impl SteppedClock {
    pub fn new(start: SystemTime) -> Self {
        Self {
            base: TokioClock::starting_at(start),
            jumped: Mutex::new(Duration::ZERO),
            stepped_back: Mutex::new(Duration::ZERO),
        }
    }

    /// Steps the wall clock forward by `by`, without any monotonic time passing.
    pub fn jump(&self, by: Duration) {
        *self.jumped.lock().unwrap() += by;
    }

    /// Steps the wall clock back by `by` (a clock that was ahead, corrected).
    pub fn step_back(&self, by: Duration) {
        *self.stepped_back.lock().unwrap() += by;
    }
}

impl Clock for SteppedClock {
    fn now(&self) -> SystemTime {
        self.base.now() + *self.jumped.lock().unwrap() - *self.stepped_back.lock().unwrap()
    }
}
