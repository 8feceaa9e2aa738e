//! Where the run secret of a multi-process run comes from (`zmq_multi` and the Redis
//! mappings): `--secret-file FILE`, else `DISPEL4RS_SECRET`, else (coordinator only) a new
//! one, which the workers it starts receive in their environment.
//!
//! | process | `--secret-file FILE` | `DISPEL4RS_SECRET` | neither |
//! |---|---|---|---|
//! | coordinator | read FILE, or create it (mode 0600) | used | a new secret, unless workers are to be started by hand: refused |
//! | worker | read FILE | used | refused, naming both ways |

use crate::mapping::RunError;
use crate::validate::OptionError;
use dispel4rs_transports::auth::{RunSecret, SECRET_ENV};
use std::path::Path;

fn secret_error(e: impl std::fmt::Display) -> RunError {
    RunError::Options(OptionError::Secret(e.to_string()))
}

/// The coordinator's run secret: from `--secret-file` (made there if the file does not
/// exist yet, for the workers started by hand to read), else from `DISPEL4RS_SECRET`, else a
/// new one — which only the workers it starts itself can get, so when workers are to be
/// started by hand (`by_hand`) one of the first two is required.
pub(crate) fn coordinator_secret(
    mapping: &str,
    secret_file: Option<&Path>,
    by_hand: bool,
) -> Result<RunSecret, RunError> {
    if let Some(path) = secret_file {
        if path.exists() {
            return RunSecret::read_file(path).map_err(secret_error);
        }
        let secret = RunSecret::create_file(path).map_err(secret_error)?;
        eprintln!(
            "{mapping}: wrote a new run secret to {} (readable by you only); workers started by hand need it: \
             --secret-file {0}",
            path.display()
        );
        return Ok(secret);
    }
    match RunSecret::from_env().map_err(secret_error)? {
        Some(secret) => Ok(secret),
        None if !by_hand => RunSecret::generate().map_err(secret_error),
        None => Err(secret_error(format!(
            "{mapping}: workers started by hand must prove the run secret: give the coordinator and every \
             worker --secret-file FILE (the coordinator creates FILE if it does not exist), or the same \
             {SECRET_ENV}"
        ))),
    }
}

/// A worker's run secret: from `--secret-file`, else from `DISPEL4RS_SECRET` (which a
/// coordinator sets for the workers it starts).
pub(crate) fn worker_secret(mapping: &str, secret_file: Option<&Path>) -> Result<RunSecret, RunError> {
    if let Some(path) = secret_file {
        return RunSecret::read_file(path).map_err(secret_error);
    }
    RunSecret::from_env().map_err(secret_error)?.ok_or_else(|| {
        secret_error(format!(
            "a {mapping} worker must prove the run secret: give it the coordinator's --secret-file FILE, or set \
             {SECRET_ENV} to the same secret"
        ))
    })
}
