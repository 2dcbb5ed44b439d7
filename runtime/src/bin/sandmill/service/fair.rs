//! Who gets the next free worker slot: dominant resource fairness (DRF) over slots and
//! memory, as YARN's DRF policy does. A tenant's dominant share is the larger of its share of
//! the slots and its share of the memory in use, divided by its weight; the slot goes to the
//! runnable tenant with the smallest. Plain arithmetic, tested against a simulation.

/// One tenant's load, as the scheduler sees it when a slot is free.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// Its weight (positive).
    pub weight: f64,
    /// Slots its tasks hold.
    pub slots: u64,
    /// Memory its tasks hold.
    pub memory: u64,
    /// The memory its next task wants, if it has one waiting.
    pub next: Option<u64>,
    /// When it last got a slot (a counter; lower is longer ago): breaks ties, so that equal
    /// tenants take turns.
    pub served: u64,
}

/// The machine's worker capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Worker slots.
    pub slots: u64,
    /// Worker memory.
    pub memory: u64,
}

impl Load {
    /// Its weighted dominant share of `capacity`.
    pub fn share(&self, capacity: Capacity) -> f64 {
        let slots = self.slots as f64 / capacity.slots.max(1) as f64;
        let memory = self.memory as f64 / capacity.memory.max(1) as f64;
        slots.max(memory) / self.weight
    }
}

/// The tenant (an index into `loads`) that gets a free slot, or `None` if no waiting task fits:
/// a task fits if its memory is free, or if nothing at all is running (so that a task larger
/// than the machine still runs, alone). Ties go to the tenant holding fewer slots, then to
/// the one served longest ago.
pub fn pick(loads: &[Load], capacity: Capacity) -> Option<usize> {
    let slots_used: u64 = loads.iter().map(|l| l.slots).sum();
    let memory_used: u64 = loads.iter().map(|l| l.memory).sum();
    if slots_used >= capacity.slots {
        return None;
    }
    let mut best: Option<(usize, f64)> = None;
    for (i, load) in loads.iter().enumerate() {
        let Some(want) = load.next else { continue };
        let fits = slots_used == 0 || memory_used.saturating_add(want) <= capacity.memory;
        if !fits {
            continue;
        }
        let share = load.share(capacity);
        let better = match best {
            None => true,
            Some((j, s)) => {
                let other = &loads[j];
                share < s || (share == s && (load.slots, load.served) < (other.slots, other.served))
            }
        };
        if better {
            best = Some((i, share));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs tenants with endless queues of tasks of one length (1 tick) and the given memory
    /// through `ticks` rounds of `capacity.slots` slots, and returns the slot-ticks each got.
    fn simulate(weights: &[f64], memory: &[u64], capacity: Capacity, ticks: u64) -> Vec<u64> {
        let mut got = vec![0; weights.len()];
        let mut clock = 0;
        let mut served = vec![0; weights.len()];
        for _ in 0..ticks {
            let mut loads: Vec<Load> = weights
                .iter()
                .zip(memory)
                .zip(&served)
                .map(|((&weight, &m), &served)| Load {
                    weight,
                    slots: 0,
                    memory: 0,
                    next: Some(m),
                    served,
                })
                .collect();
            while let Some(i) = pick(&loads, capacity) {
                clock += 1;
                loads[i].slots += 1;
                loads[i].memory += memory[i];
                loads[i].served = clock;
                served[i] = clock;
                got[i] += 1;
            }
        }
        got
    }

    #[test]
    fn equal_weights_share_slots_equally() {
        let capacity = Capacity {
            slots: 4,
            memory: 1 << 40,
        };
        assert_eq!(simulate(&[1.0, 1.0], &[1, 1], capacity, 100), [200, 200]);
        // One slot: they take turns.
        let one = Capacity {
            slots: 1,
            ..capacity
        };
        assert_eq!(simulate(&[1.0, 1.0], &[1, 1], one, 100), [50, 50]);
        assert_eq!(
            simulate(&[1.0, 1.0, 2.0], &[1, 1, 1], capacity, 100),
            [100, 100, 200]
        );
    }

    #[test]
    fn memory_heavy_tasks_count_by_their_dominant_resource() {
        // B's tasks take 40% of the memory each: one puts B's dominant share (memory) at 0.4,
        // above A's 0.25 (one slot), so A takes the next slot (0.5), then B its second
        // (0.4 < 0.5, and 82 of 100 fits).
        let capacity = Capacity {
            slots: 4,
            memory: 100,
        };
        assert_eq!(simulate(&[1.0, 1.0], &[1, 40], capacity, 10), [20, 20]);
        // At half the memory each, B's second task never fits: A gets the other slots.
        assert_eq!(simulate(&[1.0, 1.0], &[1, 50], capacity, 10), [30, 10]);
        // With memory to spare, memory is nobody's dominant resource: equal slots.
        let roomy = Capacity {
            slots: 4,
            memory: 1000,
        };
        assert_eq!(simulate(&[1.0, 1.0], &[1, 50], roomy, 10), [20, 20]);
    }

    #[test]
    fn nothing_fits_when_slots_or_memory_are_used_up() {
        let capacity = Capacity {
            slots: 2,
            memory: 10,
        };
        let busy = |slots, memory, next| Load {
            weight: 1.0,
            slots,
            memory,
            next,
            served: 0,
        };
        assert_eq!(pick(&[busy(2, 2, Some(1))], capacity), None);
        assert_eq!(pick(&[busy(1, 9, Some(2))], capacity), None);
        assert_eq!(
            pick(&[busy(1, 9, None), busy(0, 0, Some(1))], capacity),
            Some(1)
        );
        // Larger than the machine: runs when nothing else does.
        assert_eq!(pick(&[busy(0, 0, Some(100))], capacity), Some(0));
    }

    proptest! {
        /// With endless queues and tasks that fit, a round fills every slot, and no tenant
        /// holds a slot it got while another had a smaller weighted share: taking any
        /// tenant's last slot away leaves it at most at every other tenant's share.
        #[test]
        fn every_slot_goes_to_the_smallest_weighted_share(
            weights in proptest::collection::vec(1u32..5, 1..6),
            slots in 1u64..17,
        ) {
            let weights: Vec<f64> = weights.into_iter().map(f64::from).collect();
            let memory = vec![1; weights.len()];
            let capacity = Capacity { slots, memory: 1 << 40 };
            let got = simulate(&weights, &memory, capacity, 1);
            prop_assert_eq!(got.iter().sum::<u64>(), slots);
            for (i, (&gi, wi)) in got.iter().zip(&weights).enumerate() {
                for (j, (&gj, wj)) in got.iter().zip(&weights).enumerate() {
                    if i != j && gi > 0 {
                        prop_assert!((gi - 1) as f64 / wi <= gj as f64 / wj,
                            "got {got:?} for weights {weights:?}");
                    }
                }
            }
        }
    }
}
