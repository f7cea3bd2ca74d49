//! The membership closure: which roles a role can act as, and by which chain of grants.
//!
//! A grant passes privileges on when it has INHERIT, or when the member may SET ROLE to it
//! (an attacker holding the member's login does that first), or when the member holds
//! ADMIN OPTION on it (it may grant the role to itself). PostgreSQL 16 keeps INHERIT and
//! SET per grant; older servers have INHERIT per member role and SET always, which the
//! snapshot already folds into each grant.

use super::snapshot::MemberGrant;
use std::collections::{HashMap, VecDeque};

/// How a role is reached through one grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Privileges are used without doing anything.
    Inherit,
    /// Only after `SET ROLE`.
    SetRole,
    /// Only after granting the role to oneself (ADMIN OPTION).
    Admin,
}

/// A role reached from another, with the chain that leads there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub role: String,
    /// The roles passed through, from the start's first grant to `role` itself.
    pub chain: Vec<String>,
    /// True when every grant of the chain inherits.
    pub inherited: bool,
}

/// The membership graph, member → the roles it was granted.
#[derive(Debug, Default, Clone)]
pub struct Memberships {
    granted: HashMap<String, Vec<(String, Via)>>,
}

impl Memberships {
    /// Builds the graph from the snapshot's grants.
    pub fn new(grants: &[MemberGrant]) -> Memberships {
        let mut granted: HashMap<String, Vec<(String, Via)>> = HashMap::new();
        for g in grants {
            let via = if g.inherit {
                Via::Inherit
            } else if g.set {
                Via::SetRole
            } else if g.admin {
                Via::Admin
            } else {
                continue;
            };
            granted
                .entry(g.member.clone())
                .or_default()
                .push((g.role.clone(), via));
        }
        for edges in granted.values_mut() {
            edges.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Memberships { granted }
    }

    /// True when `role` was granted any role.
    pub fn has_any(&self, role: &str) -> bool {
        self.granted.get(role).is_some_and(|g| !g.is_empty())
    }

    /// Every role `start` can act as (itself excluded), each by its shortest chain; a role
    /// reachable both ways is reported as inherited when some chain inherits throughout.
    pub fn reach(&self, start: &str) -> Vec<Reached> {
        let mut best: HashMap<String, Reached> = HashMap::new();
        // Breadth-first twice: first along inheriting grants only, so that an inherited
        // chain wins over a shorter SET ROLE one; then along every grant.
        for inherit_only in [true, false] {
            let mut queue: VecDeque<(String, Vec<String>)> = VecDeque::new();
            queue.push_back((start.to_string(), Vec::new()));
            let mut seen = std::collections::HashSet::new();
            seen.insert(start.to_string());
            while let Some((role, chain)) = queue.pop_front() {
                let Some(edges) = self.granted.get(&role) else {
                    continue;
                };
                for (next, via) in edges {
                    if inherit_only && *via != Via::Inherit {
                        continue;
                    }
                    if !seen.insert(next.clone()) {
                        continue;
                    }
                    let mut c = chain.clone();
                    c.push(next.clone());
                    best.entry(next.clone()).or_insert_with(|| Reached {
                        role: next.clone(),
                        chain: c.clone(),
                        inherited: inherit_only,
                    });
                    queue.push_back((next.clone(), c));
                }
            }
        }
        let mut out: Vec<Reached> = best.into_values().collect();
        out.sort_by(|a, b| a.chain.len().cmp(&b.chain.len()).then(a.role.cmp(&b.role)));
        out
    }
}

/// `start → member of a → member of b`, the way a person reads a chain.
pub fn chain_text(start: &str, reached: &Reached) -> String {
    let mut s = start.to_string();
    for r in &reached.chain {
        s.push_str(" → member of ");
        s.push_str(r);
    }
    if !reached.inherited {
        s.push_str(" (after SET ROLE)");
    }
    s
}
