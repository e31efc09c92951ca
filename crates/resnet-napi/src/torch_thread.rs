//! One long-lived thread for the libtorch work of the model's async calls (load, predict,
//! embed, logits, preprocess, evaluate, export, save). libtorch parallelises each operator over an OpenMP team
//! owned by the calling thread. Run straight from the libuv pool, every pool thread that
//! picks up a task starts a team of its own, and a team that has just finished keeps spinning
//! for a while, taking the cores from the next call's team: a resnet34 predict on 2 cores
//! took 74 ms from the pool against 61 ms from a single thread. Calls queue here in order;
//! each uses all of libtorch's threads, so running them one at a time loses nothing.
//!
//! `promise` is the one way the binding runs such work: it queues a closure here and returns a
//! JavaScript promise that this thread settles. Neither the JavaScript thread nor the libuv
//! pool waits for it.
use crate::errors::{guarded, to_napi};
use napi::bindgen_prelude::{Object, ToNapiValue};
use napi::Env;
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

/// Queues `job` on the torch thread; false when that thread is not running. `job` must not
/// panic (wrap fallible work in `guarded`).
pub fn spawn(job: impl FnOnce() + Send + 'static) -> bool {
    queue().is_some_and(|sender| sender.send(Box::new(job)).is_ok())
}

/// What settles a promise on the JavaScript thread: builds the JavaScript value there.
pub type Resolver<V> = Box<dyn FnOnce(Env) -> napi::Result<V>>;

/// Runs `work` on the torch thread (panics caught as ERR_LIBTORCH) and returns a promise of
/// `present(output)`, which runs on the JavaScript thread (where napi values may be made), or
/// rejected with `work`'s error.
pub fn promise<'env, T, V>(
    env: &'env Env,
    work: impl FnOnce() -> resnet_core::Result<T> + Send + 'static,
    present: impl FnOnce(T) -> napi::Result<V> + Send + 'static,
) -> napi::Result<Object<'env>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
{
    let (deferred, promise) = env.create_deferred::<V, Resolver<V>>()?;
    let unqueued = deferred.clone();
    let job: Job = Box::new(move || match guarded(work) {
        Ok(output) => deferred.resolve(Box::new(move |_env| present(output))),
        Err(error) => deferred.reject(error),
    });
    let queued = spawn(job);
    if !queued {
        unqueued.reject(to_napi(resnet_core::Error::Libtorch("the inference thread is not running".into())));
    }
    Ok(promise)
}
