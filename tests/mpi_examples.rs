//! Every reference example under `mpi` (`mpirun -n 2` and `-n 4`, oversubscribed) gives the
//! same multiset of outputs as `simple` with the same `-n`.
#![cfg(feature = "mpi")]

mod support;

#[test]
fn every_example_under_mpi_matches_simple() {
    support::assert_same_as_simple("mpi", &[2, 4], |example, args| {
        // `-n` comes from mpirun; the rest of the arguments are the same.
        let ranks: usize = args[1].parse().expect("-n value");
        let mut all = vec!["mpi".to_owned()];
        all.extend(args[2..].iter().cloned());
        support::mpirun_collect(ranks, example, &all)
    });
}
