//! The Redis mappings on the reference examples, with a real `redis-server` started here on
//! a free loopback port: every stateless example under `dyn_redis` and `dyn_auto_redis` with
//! `-n` 1, 2 and 4 gives the same outputs as `simple` (per-instance aggregates compared by
//! their totals), the stateful ones are refused naming the PE, and no key of a job is left
//! behind.
#![cfg(feature = "redis")]

mod support;

use dispel4rs_transports::redis::JobKeys;
use dispel4rs_transports::redis_server::PrivateRedis;

#[test]
fn every_stateless_example_under_the_redis_mappings_matches_simple_and_leaves_no_key() {
    let server = PrivateRedis::start(None).expect("redis-server (scripts/setup.sh installs it)");
    let url = server.url().secret_form().to_owned();
    let mut job = 0;
    for mapping in support::REDIS_MAPPINGS {
        support::assert_stateless_same_as_simple(mapping, &[1, 2, 4], |example, args| {
            job += 1;
            let id = format!("t{job}");
            let mut all = vec![mapping.to_owned(), "--redis".into(), url.clone(), "--job".into(), id.clone()];
            all.extend(args.iter().cloned());
            let records = support::run_collect(example, &all);
            let mut conn = server.url().connect(std::time::Duration::from_secs(3)).unwrap();
            assert_eq!(
                conn.job_key_count(&JobKeys::new(&id)).unwrap(),
                0,
                "{example}: job {id} left keys behind"
            );
            records
        });
    }
}

#[test]
fn stateful_examples_are_refused_before_anything_runs() {
    for mapping in support::REDIS_MAPPINGS {
        for (example, pe) in support::STATEFUL_EXAMPLES {
            let (_, extra) = support::example_workloads().into_iter().find(|(e, _)| *e == example).unwrap();
            let mut args = vec![mapping.to_owned(), "-n".into(), "2".into()];
            args.extend(extra);
            let out = support::run(example, &args);
            out.assert_code(2).assert_stderr_contains(&[&format!("PE '{pe}' is stateful")]);
            assert!(
                !out.stderr.contains("redis-server"),
                "refused before a server is started: {}",
                out.stderr
            );
        }
    }
}
