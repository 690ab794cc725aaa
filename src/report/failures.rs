//! Where a level's failed requests started (`analysis::failures`): each origin, the requests
//! whose failure it explains, the chain the error took to the root and the endpoints that
//! failed from it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A service's operation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct OperationName {
    /// Service.
    pub service: String,
    /// Operation.
    pub operation: String,
}

/// Where failed requests started: the deepest erroring span on the path of their error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FailureOrigin {
    /// The operation whose error the requests failed of.
    pub origin: OperationName,
    /// Failed requests of the level whose failure started here.
    pub failed_requests: u64,
    /// Their share of the level's failed requests.
    pub share_of_failures: f64,
    /// The erroring spans the most common of these failures went through, from the request's
    /// root to the origin.
    pub chain: Vec<OperationName>,
    /// The endpoints (root operations) whose requests failed from here, most first (at most
    /// five).
    pub endpoints: Vec<FailedEndpoint>,
    /// The earliest of these failed requests.
    pub exemplar_trace_ids: Vec<String>,
}

/// An endpoint's failed requests from one origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FailedEndpoint {
    /// The endpoint.
    pub endpoint: OperationName,
    /// Its requests that failed from the origin.
    pub failed_requests: u64,
}
