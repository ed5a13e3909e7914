/// What `/readyz` asks: `Ok` once the hub has caught up, or why not.
pub trait Readiness: Send + Sync {
    fn ready(&self) -> Result<(), String>;
}
