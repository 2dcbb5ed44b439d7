//! Tenants and their tokens: `sandmill tenant add|list|remove`, and finding the tenant a
//! request's token belongs to.
//!
//! A token is 32 random bytes, shown once when the tenant is added; the database keeps only
//! its SHA-256 (a token is random, so no salt or slow hash is needed), and every stored hash
//! is compared with the presented one in constant time.

use super::db::{Db, Tenant};
use sha2::{Digest as _, Sha256};
use std::io::Read as _;

/// Prefixes every token, so that one pasted into the wrong place is recognisable.
const PREFIX: &str = "smt_";

/// `len` random bytes from the operating system.
pub fn random_bytes(len: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0; len];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new token.
pub fn new_token() -> std::io::Result<String> {
    Ok(format!("{PREFIX}{}", hex(&random_bytes(32)?)))
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The tenant whose token this is. Every tenant's hash is compared, found or not.
pub fn authenticate(tenants: &[Tenant], token: &str) -> Option<Tenant> {
    let hash = token_hash(token);
    let mut found = None;
    for tenant in tenants {
        if same(&tenant.token_hash, &hash) {
            found = Some(tenant.clone());
        }
    }
    found
}

/// `sandmill tenant add`: stores the tenant and returns its token.
pub fn add(db: &Db, mut tenant: Tenant) -> anyhow::Result<String> {
    super::store::check_name("tenant", &tenant.name).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        tenant.weight > 0.0 && tenant.weight.is_finite(),
        "--weight must be a positive number"
    );
    anyhow::ensure!(tenant.max_running > 0, "--max-running must be at least 1");
    anyhow::ensure!(
        tenant.max_task_cpu > 0.0 && tenant.max_task_cpu.is_finite(),
        "--max-task-cpu must be a positive number of seconds"
    );
    let mut roots = Vec::new();
    for root in &tenant.input_roots {
        let canonical =
            std::fs::canonicalize(root).map_err(|e| anyhow::anyhow!("--input-root {root}: {e}"))?;
        anyhow::ensure!(canonical.is_dir(), "--input-root {root} is not a directory");
        roots.push(canonical.display().to_string());
    }
    tenant.input_roots = roots;
    let token = new_token()?;
    tenant.token_hash = token_hash(&token);
    db.add_tenant(&tenant)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str, token: &str) -> Tenant {
        Tenant {
            name: name.into(),
            token_hash: token_hash(token),
            weight: 1.0,
            max_running: 1,
            max_queued: 1,
            max_memory: 1,
            max_storage: 1,
            max_task_cpu: 1.0,
            input_roots: vec![],
            created: String::new(),
        }
    }

    #[test]
    fn a_token_finds_its_tenant_and_no_other() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        let tenants = [tenant("a", &a), tenant("b", &b)];
        assert_eq!(authenticate(&tenants, &a).unwrap().name, "a");
        assert_eq!(authenticate(&tenants, &b).unwrap().name, "b");
        assert!(authenticate(&tenants, "").is_none());
        assert!(authenticate(&tenants, &a[..a.len() - 1]).is_none());
        assert!(authenticate(&tenants, &hex(&token_hash(&a))).is_none());
        assert!(same(b"ab", b"ab") && !same(b"ab", b"ac") && !same(b"ab", b"abc"));
    }
}
