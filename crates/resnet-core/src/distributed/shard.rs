//! Which samples of an epoch's shuffled order a rank trains on, as
//! `torch.utils.data.DistributedSampler` picks them: the order is padded to a multiple of the
//! world size by repeating its head, and rank `r` takes every `world`-th sample from `r`.
//! Every rank holds the same number of samples, so all take the same number of steps; and
//! with batch `b` per rank, batch `k` of all ranks together is batch `k` of one rank with
//! batch `b x world` over the unpadded order.

/// Rank `rank`'s share of `order` among `world` ranks.
pub fn shard(order: &[usize], rank: usize, world: usize) -> Vec<usize> {
    if world <= 1 || order.is_empty() {
        return order.to_vec();
    }
    let per_rank = order.len().div_ceil(world);
    (0..per_rank).map(|i| order[(i * world + rank) % order.len()]).collect()
}

#[cfg(test)]
mod tests {
    use super::shard;

    #[test]
    fn one_rank_keeps_the_order() {
        assert_eq!(shard(&[3, 1, 2], 0, 1), vec![3, 1, 2]);
    }

    #[test]
    fn ranks_split_the_order_and_pad_with_its_head() {
        let order = [9, 8, 7, 6, 5];
        assert_eq!(shard(&order, 0, 2), vec![9, 7, 5]);
        assert_eq!(shard(&order, 1, 2), vec![8, 6, 9]);
    }

    #[test]
    fn every_sample_is_somewhere() {
        let order: Vec<usize> = (0..10).collect();
        let mut all: Vec<usize> = (0..3).flat_map(|rank| shard(&order, rank, 3)).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all, order);
    }
}
