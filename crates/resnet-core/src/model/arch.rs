//! The torchvision ResNet variants.
use crate::choice::choice;

choice! {
    /// A torchvision ResNet variant.
    pub enum Arch for "arch" {
        Resnet18 = "resnet18",
        Resnet34 = "resnet34",
        Resnet50 = "resnet50",
        Resnet101 = "resnet101",
        Resnet152 = "resnet152",
    }
}

impl Arch {
    pub const ALL: [Arch; 5] = [Arch::Resnet18, Arch::Resnet34, Arch::Resnet50, Arch::Resnet101, Arch::Resnet152];
}
