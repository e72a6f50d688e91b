//! The 1000 ImageNet-1k class names, in class-index order (WordNet lemmas, as Keras and
//! many model zoos print them), for reporting a classifier's top classes.

const TEXT: &str = include_str!("imagenet_classes.txt");

/// The name of ImageNet-1k class `index`, or `None` past 999.
pub fn class_name(index: usize) -> Option<&'static str> {
    TEXT.lines().nth(index)
}

/// Number of ImageNet-1k classes.
pub const CLASSES: usize = 1000;

#[cfg(test)]
mod tests {
    #[test]
    fn a_thousand_names_in_index_order() {
        assert_eq!(super::TEXT.lines().count(), super::CLASSES);
        assert_eq!(super::class_name(0), Some("tench"));
        assert_eq!(super::class_name(281), Some("tabby"));
        assert_eq!(super::class_name(417), Some("balloon"));
        assert_eq!(super::class_name(999), Some("toilet tissue"));
        assert_eq!(super::class_name(1000), None);
    }
}
