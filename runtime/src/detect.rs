#![cfg(feature = "std")]
//! Choosing the kernel tier at run time, once: the best the CPU supports, or the one
//! `GHOSTNET_ISA=scalar|avx2|avxvnni|avx512|avx512vnni|neon` forces.

use super::isa::Isa;

/// Why the forced tier cannot run here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsaError(pub std::string::String);

impl core::fmt::Display for IsaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for IsaError {}

/// The tier to run: `GHOSTNET_ISA` if set (and usable), else [`Isa::best`].
pub fn select() -> Result<Isa, IsaError> {
    match std::env::var("GHOSTNET_ISA") {
        Ok(name) => {
            let isa = Isa::from_name(name.trim()).ok_or_else(|| {
                let names: std::vec::Vec<&str> = Isa::ALL.iter().map(|i| i.name()).collect();
                IsaError(std::format!("GHOSTNET_ISA={name} is not a kernel tier; use one of {}", names.join(", ")))
            })?;
            if isa.supported() {
                Ok(isa)
            } else {
                let usable: std::vec::Vec<&str> = Isa::ALL.iter().filter(|i| i.supported()).map(|i| i.name()).collect();
                Err(IsaError(std::format!(
                    "GHOSTNET_ISA={name}, but this CPU or build cannot run that tier (usable here: {})",
                    usable.join(", ")
                )))
            }
        }
        Err(_) => Ok(Isa::best()),
    }
}
