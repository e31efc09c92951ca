//! One long-lived thread for the libtorch work of the model's async tasks (predict, embed,
//! logits, evaluate, export, save). libtorch parallelises each operator over an OpenMP team
//! owned by the calling thread. Run straight from the libuv pool, every pool thread that
//! picks up a task starts a team of its own, and a team that has just finished keeps spinning
//! for a while, taking the cores from the next call's team: a resnet34 predict on 2 cores
//! took 74 ms from the pool against 61 ms from a single thread. Calls queue here in order;
//! each uses all of libtorch's threads, so running them one at a time loses nothing.
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

fn queue() -> Option<Sender<Job>> {
    static QUEUE: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new().name("resnet-torch".into()).spawn(move || {
            for job in receiver {
                job();
            }
        });
        spawned.ok().map(|_| Mutex::new(sender))
    });
    let sender = queue.as_ref()?.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Some(sender.clone())
}

/// Runs `work` on the torch thread and waits for its result; `None` when that thread could
/// not be started or has stopped. `work` must not panic (wrap it in `errors::guarded`): a
/// panic would end the thread for every later call.
pub fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (reply, result) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        // The caller may have gone; there is nobody to tell then.
        let _ = reply.send(work());
    });
    queue()?.send(job).ok()?;
    result.recv().ok()
}
