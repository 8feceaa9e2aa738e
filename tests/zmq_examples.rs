//! Every reference example under `zmq_multi` (worker processes connected by real ZMQ
//! sockets) with `-n` 2, 4 and 8 gives the same multiset of outputs as `simple`.
#![cfg(feature = "zmq")]

mod support;

#[test]
fn every_example_under_zmq_multi_matches_simple() {
    support::assert_same_as_simple("zmq_multi", &[2, 4, 8], |example, args| {
        let mut all = vec!["zmq_multi".to_owned()];
        all.extend(args.iter().cloned());
        support::run_collect(example, &all)
    });
}
