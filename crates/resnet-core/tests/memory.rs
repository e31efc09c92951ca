//! The caching CPU allocator (csrc/cpu_allocator.cpp): once a model exists it serves libtorch's
//! CPU tensors, a repeated training step takes its large blocks from the cache instead of the
//! system, the values computed are unchanged, and releasing memory empties the cache.
//! One test in its own binary: the allocator and its counters are global to the process.
use resnet_core::{Arch, Preprocess};
use resnet_core::memory::{cpu_cache_stats, release_free_memory};
use resnet_core::model::saved::SavedModel;
use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

#[test]
fn repeated_steps_reuse_cached_blocks_and_release_empties_the_cache() {
    let classes = (0..3).map(|i| format!("class{i}")).collect();
    let model = SavedModel::new_seeded(3, Arch::Resnet18, classes, 64, Preprocess::standard(), None, Device::Cpu).unwrap();
    let input = Tensor::randn([8, 3, 64, 64], (Kind::Float, Device::Cpu));
    let step = || {
        for (_, variable) in model.vs.variables() {
            variable.grad().f_zero_().ok();
        }
        let loss = model.net.forward_t(&input, true).square().sum(Kind::Float);
        loss.backward();
        (loss.double_value(&[]), model.vs.variables()["conv1.weight"].grad().copy())
    };

    let (first_loss, first_grad) = step();
    let after_first = cpu_cache_stats();
    assert!(after_first.misses > 0 && after_first.cached_bytes > 0, "the first step left blocks in the cache: {after_first:?}");
    // The second step still meets sizes the first never freed (gradients computed while the
    // first step's are held); from the third on, a step asks for what the last one freed.
    let _ = step();
    let after_second = cpu_cache_stats();
    let (third_loss, third_grad) = step();
    let after_third = cpu_cache_stats();
    let (hits, misses) = (after_third.hits - after_second.hits, after_third.misses - after_second.misses);
    assert!(hits > 0 && misses * 10 <= hits, "the third step's large blocks came from the cache: {hits} hits, {misses} misses");
    // Training-mode batch norm normalises with the batch's own statistics: reused blocks or
    // not, every step computes the same loss and gradient.
    assert_eq!(first_loss, third_loss);
    assert_eq!((first_grad - third_grad).abs().max().double_value(&[]), 0.0);

    release_free_memory();
    assert_eq!(cpu_cache_stats().cached_bytes, 0);
}
