//! Pool arrays (PoolByteArray, PoolStringArray) read, wiped and made without touching an empty
//! one's storage: gdnative 0.11 reads and writes an empty pool array through a null pointer,
//! which Rust's debug checks abort on (`slice::from_raw_parts` asserts a non-null pointer).

use gdnative::core_types::PoolElement;
use gdnative::prelude::*;

/// `pool`'s elements, handed to `read`.
pub(crate) fn read<T: PoolElement, R>(pool: &PoolArray<T>, read: impl FnOnce(&[T]) -> R) -> R {
    match pool.is_empty() {
        true => read(&[]),
        false => read(&pool.read()),
    }
}

/// `pool`'s elements, each overwritten with `value`.
pub(crate) fn fill<T: PoolElement + Clone>(pool: &mut PoolArray<T>, value: T) {
    if !pool.is_empty() {
        pool.write().fill(value);
    }
}

/// A pool array holding a copy of `items`.
pub(crate) fn from_slice<T: PoolElement + Copy>(items: &[T]) -> PoolArray<T> {
    match items.is_empty() {
        true => PoolArray::new(),
        false => PoolArray::from_slice(items),
    }
}

/// A pool array holding `items`.
pub(crate) fn from_vec<T: PoolElement>(items: Vec<T>) -> PoolArray<T> {
    match items.is_empty() {
        true => PoolArray::new(),
        false => PoolArray::from_vec(items),
    }
}

/// A PoolStringArray's strings.
pub(crate) fn strings(list: &PoolArray<GodotString>) -> Vec<String> {
    read(list, |list| {
        list.iter().map(GodotString::to_string).collect()
    })
}
