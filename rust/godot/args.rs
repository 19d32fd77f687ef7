//! Number arguments (`Int`, `Real`) converted the way Godot converts them for its own classes,
//! and the argument of a method registered past gdnative's wrapper (`ffi::DirectMethod`).

use gdnative::core_types::{CoerceFromVariant, FromVariantError};
use gdnative::export::{ArgumentError, Varargs};
use gdnative::prelude::*;

// gdnative's `i64`/`f64` accept only a Variant of exactly that type, so `listen(9080.0)` or
// `get_peer(id)` with an id parsed from JSON (JSON numbers are floats) would fail with a
// conversion error, where the built-in class accepts any number.

/// An `int` argument: an int, a float (truncated, as Godot does) or a bool.
pub(crate) struct Int(pub i64);

/// A `float` argument: a float, an int or a bool.
pub(crate) struct Real(pub f64);

impl Int {
    pub(crate) fn get(self) -> i64 {
        self.0
    }
}

impl FromVariant for Int {
    fn from_variant(variant: &Variant) -> Result<Self, FromVariantError> {
        number(variant, VariantType::I64).map(Int)
    }
}

impl FromVariant for Real {
    fn from_variant(variant: &Variant) -> Result<Self, FromVariantError> {
        number(variant, VariantType::F64).map(Real)
    }
}

fn number<T: CoerceFromVariant>(
    variant: &Variant,
    expected: VariantType,
) -> Result<T, FromVariantError> {
    match variant.get_type() {
        VariantType::I64 | VariantType::F64 | VariantType::Bool => Ok(variant.coerce_to()),
        variant_type => Err(FromVariantError::InvalidVariantType {
            variant_type,
            expected,
        }),
    }
}

/// The one argument of a method that takes one, named `name` and `type_name` in errors; more
/// arguments than that are an error too.
pub(crate) fn one_argument<'a, A: FromVariant>(
    mut args: Varargs<'a>,
    name: &'static str,
    type_name: &'static str,
) -> Result<A, Box<ArgumentError<'a>>> {
    let value = args
        .read::<A>()
        .with_name(name)
        .with_type_name(type_name)
        .get()?;
    args.done()?;
    Ok(value)
}
