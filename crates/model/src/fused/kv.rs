//! The KV cache's slab: grown geometrically and written in place during decoding.

use burn::backend::Flex;
use burn::tensor::Tensor;
use burn_flex::FlexTensor;

use super::attention::unit_inner_stride;
use super::{contiguous, f32s, flex, input};

/// Append the packed projection rows `new [b, s, w]` of this pass to a KV-cache slab holding
/// `len` rows, and return the slab (`[b, capacity, w]`, capacity ≥ len + s; the caller reads
/// the first len + s rows). The cache keeps whole rows (`w` = 3·d: queries, keys, values) so
/// that attention reads the cached keys and values and the new queries from one tensor
/// ([`super::self_attention`]).
///
/// On plain flex (inference) the slab grows geometrically and new rows are written in place
/// when the cache owns it alone, so a decoding step copies one row per layer instead of the
/// whole cache; elsewhere (autodiff, other backends) it is a concatenation.
pub fn kv_append(slab: Option<Tensor<3>>, len: usize, new: Tensor<3>) -> Tensor<3> {
    let [b, s, w] = new.dims();
    let need = len + s;
    assert!(
        slab.is_some() || len == 0,
        "kv_append: {len} cached rows but no slab"
    );
    // In place only on plain flex: under autodiff the cache must stay a graph of concatenations.
    let plain = |t: &Tensor<3>| input(t).filter(|i| i.ad.is_none()).map(|i| i.p);
    let slab_p = match &slab {
        None => Some(None),
        Some(t) => plain(t).filter(|p| p.is_contiguous()).map(Some),
    };
    if let (Some(newp), Some(slab_p)) = (plain(&new), slab_p) {
        let newp = if unit_inner_stride(&newp) {
            newp
        } else {
            contiguous(newp)
        };
        let (st, base) = (
            newp.layout().strides().to_vec(),
            newp.layout().start_offset(),
        );
        let src = newp.storage::<f32>();
        let cap_of = |p: &FlexTensor| p.layout().shape()[1];
        drop(slab); // the primitive (if any) is now the only reference the cache had
        let mut out = match slab_p {
            Some(p) if cap_of(&p) >= need && p.is_unique() => p,
            old => {
                let cap = (2 * need).max(16);
                let mut buf = vec![0f32; b * cap * w];
                if let Some(old) = old {
                    let (oc, src) = (cap_of(&old), f32s(&old));
                    for bi in 0..b {
                        buf[bi * cap * w..(bi * cap + len) * w]
                            .copy_from_slice(&src[bi * oc * w..(bi * oc + len) * w]);
                    }
                }
                flex(buf, vec![b, cap, w])
            }
        };
        let cap = cap_of(&out);
        let dst = out.try_storage_mut::<f32>().expect("a slab this call owns");
        for bi in 0..b {
            for r in 0..s {
                let o = (bi * cap + len + r) * w;
                let i = base + bi * st[0] as usize + r * st[1] as usize;
                dst[o..o + w].copy_from_slice(&src[i..i + w]);
            }
        }
        return Tensor::from_primitive::<Flex>(out);
    }
    match slab {
        None => new,
        Some(t) => {
            let old = if t.dims()[1] == len {
                t
            } else {
                t.narrow(1, 0, len)
            };
            Tensor::cat(vec![old, new], 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu_device;
    use crate::fused::set_enabled;
    use crate::fused::testing::{assert_close, randn, vals};

    #[test]
    fn kv_append_grows_a_slab_in_place() {
        let dev = cpu_device();
        let a = randn([2, 5, 12], 21, &dev);
        let b = randn([2, 1, 12], 22, &dev);
        // A strided view, as a narrow of a wider tensor.
        let c = randn([2, 1, 20], 23, &dev).narrow(2, 4, 12);
        let want = vals(Tensor::cat(vec![a.clone(), b.clone(), c.clone()], 1));
        // Where a slab's data lives.
        let addr = |t: &Tensor<3>| input(t).expect("flex").p.storage::<f32>().as_ptr() as usize;
        let slab = kv_append(None, 0, a.clone());
        let (cap, at) = (slab.dims()[1], addr(&slab));
        assert_eq!(cap, 16, "room to grow");
        let slab = kv_append(Some(slab), 5, b.clone());
        let slab = kv_append(Some(slab), 6, c.clone());
        // Both rows were written into the slab the cache owned.
        assert_eq!((slab.dims()[1], addr(&slab)), (cap, at));
        assert_close(&vals(slab.clone().narrow(1, 0, 7)), &want, 0.0, "slab");
        // A shared slab (a clone alive) is copied, never written under the other owner.
        let keep = slab.clone();
        let grown = kv_append(Some(slab), 7, b.clone());
        assert_ne!(addr(&grown), addr(&keep));
        assert_eq!(addr(&keep), at);
        assert_close(&vals(grown.narrow(1, 0, 7)), &want, 0.0, "copied slab");
        // Composite path: a plain concatenation.
        set_enabled(false);
        let slab = kv_append(None, 0, a);
        let slab = kv_append(Some(slab), 5, b);
        let slab = kv_append(Some(slab), 6, c);
        set_enabled(true);
        assert_eq!(slab.dims()[1], 7);
        assert_close(&vals(slab), &want, 0.0, "concatenation");
    }
}
