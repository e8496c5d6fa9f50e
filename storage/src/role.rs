//! Who is connecting, and what each component may do in the account.
//!
//! A SAS minted from the account key carries only what its component needs, so a token that
//! leaks from a worker pod cannot list runs, create queues or read the whole account's blobs by
//! listing them. An account SAS cannot name one queue or container: a permission applies to
//! every container and queue of the listed services, at every listed resource level. Narrower
//! scopes need a service SAS per queue and container, which the SDK's one-URL-per-service
//! clients do not take.

/// A component that connects to storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The server: creates the queues and containers, puts work, reads events and outputs,
    /// keeps run documents, purges runs and reads the work queue's length.
    Server,
    /// A worker: takes work messages, reads and deletes their inputs, writes outputs, sends
    /// events and poison records.
    Worker,
}

/// What an account SAS grants: permissions (`sp`) and resource types (`srt`), in the order the
/// service documents. Both roles use the blob and queue services (`ss=bq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub permissions: &'static str,
    pub resource_types: &'static str,
}

impl Role {
    /// The account SAS permissions of this role.
    ///
    /// Server, `rwdlacp` on container and object level:
    /// - `r` read blobs (outputs, run documents) and queue properties (the work queue's length);
    /// - `w` write blobs: inputs, and run documents replaced under `If-Match`, which `c` alone
    ///   (create only) cannot do;
    /// - `d` delete blobs: purged runs' inputs, outputs and documents;
    /// - `l` list blobs: a run's outputs, the run documents;
    /// - `a` add messages to the work queue;
    /// - `c` create the queues and containers at start-up (`w` would also allow it; `c` says
    ///   why and grants nothing more);
    /// - `p` receive and delete messages of the events queue.
    ///
    /// No `u`: the server never updates a message (the local model's in-process workers get a
    /// worker's SAS of their own). No service level (`s`): it neither lists queues or
    /// containers nor touches service properties.
    ///
    /// Worker, `rwdaup` on container and object level:
    /// - `r` read its input blob, and the output blob to see whether the item is already done;
    /// - `w` write the output blob, overwriting one a previous delivery left;
    /// - `d` delete the input blob once the item is done;
    /// - `a` add messages to the events and poison queues;
    /// - `u` update a work message's visibility while the item runs (its lease);
    /// - `p` receive and delete work messages.
    ///
    /// No `l`: a worker never lists, so it cannot discover other runs' blobs. No `c`: it
    /// creates no queue or container (the server does). The container level is there only
    /// because Azurite checks Delete and Update Message there, where Azure checks the object
    /// level. An account SAS applies every permission at every listed level, so that level
    /// brings `r`, `w` and `d` on queues and containers too; `w` there still lets a worker create
    /// a queue or container (Create Queue and Create Container take `c` or `w`). Taking that
    /// away needs a service SAS per queue and container.
    pub fn grant(self) -> Grant {
        match self {
            Role::Server => Grant {
                permissions: "rwdlacp",
                resource_types: "co",
            },
            Role::Worker => Grant {
                permissions: "rwdaup",
                resource_types: "co",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_gets_what_it_calls_and_no_service_level() {
        assert_eq!(
            Role::Server.grant(),
            Grant {
                permissions: "rwdlacp",
                resource_types: "co"
            }
        );
    }

    #[test]
    fn a_worker_can_neither_list_nor_create() {
        let grant = Role::Worker.grant();
        assert_eq!(grant.permissions, "rwdaup");
        for forbidden in ['l', 'c', 'x', 'y', 't', 'f', 'i'] {
            assert!(
                !grant.permissions.contains(forbidden),
                "worker has `{forbidden}`"
            );
        }
        assert!(!grant.resource_types.contains('s'));
    }

    #[test]
    fn permissions_are_in_the_documented_order() {
        const ORDER: &str = "rwdxylacuptfi";
        for role in [Role::Server, Role::Worker] {
            let positions: Vec<_> = role
                .grant()
                .permissions
                .chars()
                .map(|p| ORDER.find(p).expect("a known permission"))
                .collect();
            assert!(positions.is_sorted(), "{role:?}");
        }
    }
}
