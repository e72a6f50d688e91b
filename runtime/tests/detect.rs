//! `GHOSTNET_ISA` parsing: unset, empty and blank mean the best tier; a name forces its
//! tier; anything else is an error naming the value.
#![cfg(feature = "std")]

use std::ffi::OsStr;

use ghostnet_runtime::detect::select_from;
use ghostnet_runtime::isa::Isa;

#[test]
fn unset_empty_and_blank_mean_the_best_tier() {
    for value in [None, Some(""), Some("  "), Some("\n")] {
        assert_eq!(select_from(value.map(OsStr::new)), Ok(Isa::best()), "{value:?}");
    }
}

#[test]
fn a_name_forces_its_tier() {
    assert_eq!(select_from(Some(OsStr::new("scalar"))), Ok(Isa::Scalar));
    assert_eq!(select_from(Some(OsStr::new(" scalar "))), Ok(Isa::Scalar));
    for isa in Isa::ALL.into_iter().filter(|i| i.supported()) {
        assert_eq!(select_from(Some(OsStr::new(isa.name()))), Ok(isa));
    }
}

#[test]
fn unknown_and_unusable_names_are_errors() {
    let e = select_from(Some(OsStr::new("sse9"))).unwrap_err();
    assert!(e.0.contains("GHOSTNET_ISA=sse9 is not a kernel tier"), "{e}");
    for isa in Isa::ALL.into_iter().filter(|i| !i.supported()) {
        let e = select_from(Some(OsStr::new(isa.name()))).unwrap_err();
        assert!(e.0.contains("cannot run that tier"), "{e}");
    }
}
