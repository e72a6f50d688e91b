#![cfg(feature = "std")]
//! Choosing the kernel tier at run time, once: the best the CPU supports, or the one
//! `GHOSTNET_ISA=scalar|avx2|avxvnni|avx512|avx512vnni|neon|neondot|simd128` forces (unset, empty or blank:
//! the best).

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

/// The tier to run: `GHOSTNET_ISA` if set to a tier name (and usable), else [`Isa::best`].
pub fn select() -> Result<Isa, IsaError> {
    select_from(std::env::var_os("GHOSTNET_ISA").as_deref())
}

/// The tier a value of `GHOSTNET_ISA` asks for: `None`, empty or blank means the best tier
/// this CPU supports, as an unset variable does.
pub fn select_from(value: Option<&std::ffi::OsStr>) -> Result<Isa, IsaError> {
    // The dot-product extension of AArch64 is known to the operating system only.
    #[cfg(target_arch = "aarch64")]
    super::neon::note_dotprod(std::arch::is_aarch64_feature_detected!("dotprod"));
    let names = || Isa::ALL.iter().map(|i| i.name()).collect::<std::vec::Vec<&str>>().join(", ");
    let Some(value) = value else { return Ok(Isa::best()) };
    let Some(name) = value.to_str() else {
        return Err(IsaError(std::format!("GHOSTNET_ISA={value:?} is not a kernel tier; use one of {}", names())));
    };
    if name.trim().is_empty() {
        return Ok(Isa::best());
    }
    let isa = Isa::from_name(name.trim()).ok_or_else(|| IsaError(std::format!("GHOSTNET_ISA={name} is not a kernel tier; use one of {}", names())))?;
    if isa.supported() {
        Ok(isa)
    } else {
        let usable: std::vec::Vec<&str> = Isa::ALL.iter().filter(|i| i.supported()).map(|i| i.name()).collect();
        Err(IsaError(std::format!("GHOSTNET_ISA={name}, but this CPU or build cannot run that tier (usable here: {})", usable.join(", "))))
    }
}
