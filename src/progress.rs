//! A one-line status on a terminal for long compiles: `kiln: model.onnx: emit… 1.4s`.
//!
//! Shown only when stderr is a terminal and the work has taken longer than a delay, so short
//! compiles, pipes, logs and tests never see it; redrawn in place (`\r`) a few times a second
//! by a thread, and erased when the work ends or fails, before anything else is printed.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long work runs before its status is shown.
pub const DELAY: Duration = Duration::from_secs(1);
/// Time between redraws.
const TICK: Duration = Duration::from_millis(200);

struct State {
    stage: &'static str,
    done: bool,
}

pub struct Progress {
    shared: Option<Arc<(Mutex<State>, Condvar)>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// A status line for `what` on stderr when stderr is a terminal; otherwise nothing.
    pub fn on_stderr(what: String) -> Progress {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            Progress::start(what, Box::new(std::io::stderr()), DELAY)
        } else {
            Progress {
                shared: None,
                thread: None,
            }
        }
    }

    /// A status line for `what` written to `out` once `delay` has passed.
    pub fn start(what: String, mut out: Box<dyn Write + Send>, delay: Duration) -> Progress {
        let shared = Arc::new((
            Mutex::new(State {
                stage: "",
                done: false,
            }),
            Condvar::new(),
        ));
        let t0 = Instant::now();
        let state = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            let (lock, wake) = &*state;
            let Ok(mut st) = lock.lock() else { return };
            let mut shown = false;
            loop {
                let elapsed = t0.elapsed();
                let wait = if elapsed < delay {
                    delay - elapsed
                } else {
                    if !st.done {
                        // Cleared to the end of the line: a shorter stage name leaves no tail.
                        let _ = write!(
                            out,
                            "\rkiln: {what}: {}… {:.1}s\x1b[K",
                            st.stage,
                            elapsed.as_secs_f64()
                        );
                        let _ = out.flush();
                        shown = true;
                    }
                    TICK
                };
                if st.done {
                    break;
                }
                st = match wake.wait_timeout(st, wait) {
                    Ok((g, _)) => g,
                    Err(_) => return,
                };
            }
            if shown {
                let _ = write!(out, "\r\x1b[K");
                let _ = out.flush();
            }
        });
        Progress {
            shared: Some(shared),
            thread: Some(thread),
        }
    }

    /// The stage now running.
    pub fn stage(&self, stage: &'static str) {
        if let Some(shared) = &self.shared
            && let Ok(mut st) = shared.0.lock()
        {
            st.stage = stage;
        }
    }
}

impl Drop for Progress {
    /// Erases the line (if it was shown) before whatever is printed next.
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            if let Ok(mut st) = shared.0.lock() {
                st.done = true;
            }
            shared.1.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn short_work_prints_nothing() {
        let sink = Sink::default();
        let p = Progress::start("m.onnx".into(), Box::new(sink.clone()), DELAY);
        p.stage("load");
        drop(p);
        assert_eq!(sink.text(), "");
    }

    #[test]
    fn long_work_shows_its_stage_and_erases_the_line() {
        let sink = Sink::default();
        let p = Progress::start("m.onnx".into(), Box::new(sink.clone()), Duration::ZERO);
        p.stage("emit");
        std::thread::sleep(TICK * 2);
        drop(p);
        let text = sink.text();
        assert!(text.contains("\rkiln: m.onnx: emit… "), "{text:?}");
        assert!(text.ends_with("\r\x1b[K"), "{text:?}");
    }
}
