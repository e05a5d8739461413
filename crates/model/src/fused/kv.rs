//! The KV cache's slab: grown geometrically and written in place during decoding.

use burn::backend::Flex;
use burn::tensor::Tensor;
use burn_flex::FlexTensor;

use super::attention::{head_view_4d, unit_inner};
use super::{f32s, flex, input};

/// Append `new [b, h, s, dh]` to a KV-cache slab holding `len` positions, and return the slab
/// (`[b, h, capacity, dh]`, capacity ≥ len + s; the caller reads the first len + s positions).
///
/// On plain flex (inference) the slab grows geometrically and new positions are written in
/// place when the cache owns it alone, so a decoding step copies one position per layer
/// instead of the whole cache; elsewhere (autodiff, other backends) it is a concatenation.
pub fn kv_append(slab: Option<Tensor<4>>, len: usize, new: Tensor<4>) -> Tensor<4> {
    let [b, nh, s, dh] = new.dims();
    let need = len + s;
    assert!(
        slab.is_some() || len == 0,
        "kv_append: {len} cached positions but no slab"
    );
    // In place only on plain flex: under autodiff the cache must stay a graph of concatenations.
    let plain = |t: &Tensor<4>| input(t).filter(|i| i.ad.is_none()).map(|i| i.p);
    let slab_p = match &slab {
        None => Some(None),
        Some(t) => plain(t).filter(|p| p.is_contiguous()).map(Some),
    };
    if let (Some(newp), Some(slab_p)) = (plain(&new), slab_p) {
        let newp = unit_inner(newp);
        let nv = head_view_4d(&newp);
        let cap_of = |p: &FlexTensor| p.layout().shape()[2];
        drop(slab); // the primitive (if any) is now the only reference the cache had
        let mut out = match slab_p {
            Some(p) if cap_of(&p) >= need && p.is_unique() => p,
            old => {
                let cap = (2 * need).max(16);
                let mut buf = vec![0f32; b * nh * cap * dh];
                if let Some(old) = old {
                    let (oc, src) = (cap_of(&old), f32s(&old));
                    for bh in 0..b * nh {
                        buf[bh * cap * dh..bh * cap * dh + len * dh]
                            .copy_from_slice(&src[bh * oc * dh..bh * oc * dh + len * dh]);
                    }
                }
                flex(buf, vec![b, nh, cap, dh])
            }
        };
        let cap = cap_of(&out);
        let dst = out.try_storage_mut::<f32>().expect("a slab this call owns");
        for bi in 0..b {
            for hi in 0..nh {
                let src = nv.at(bi, hi);
                for r in 0..s {
                    let o = ((bi * nh + hi) * cap + len + r) * dh;
                    // SAFETY: the view covers [b, h, s, dh] inside `newp`.
                    let row = unsafe { std::slice::from_raw_parts(src.add(r * nv.row), dh) };
                    dst[o..o + dh].copy_from_slice(row);
                }
            }
        }
        return Tensor::from_primitive::<Flex>(out);
    }
    match slab {
        None => new,
        Some(t) => {
            let old = if t.dims()[2] == len {
                t
            } else {
                t.narrow(2, 0, len)
            };
            Tensor::cat(vec![old, new], 2)
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
        let a = randn([2, 3, 5, 4], 21, &dev);
        let b = randn([2, 3, 1, 4], 22, &dev);
        // A strided view, as the model passes it (a swap_dims of [b, s, h, dh]).
        let c = randn([2, 1, 3, 4], 23, &dev).swap_dims(1, 2);
        let want = vals(Tensor::cat(vec![a.clone(), b.clone(), c.clone()], 2));
        // Where a slab's data lives.
        let addr = |t: &Tensor<4>| input(t).expect("flex").p.storage::<f32>().as_ptr() as usize;
        let slab = kv_append(None, 0, a.clone());
        let (cap, at) = (slab.dims()[2], addr(&slab));
        assert_eq!(cap, 16, "room to grow");
        let slab = kv_append(Some(slab), 5, b.clone());
        let slab = kv_append(Some(slab), 6, c.clone());
        // Both positions were written into the slab the cache owned.
        assert_eq!((slab.dims()[2], addr(&slab)), (cap, at));
        assert_close(&vals(slab.clone().narrow(2, 0, 7)), &want, 0.0, "slab");
        // A shared slab (a clone alive) is copied, never written under the other owner.
        let keep = slab.clone();
        let grown = kv_append(Some(slab), 7, b.clone());
        assert_ne!(addr(&grown), addr(&keep));
        assert_eq!(addr(&keep), at);
        assert_close(&vals(grown.narrow(2, 0, 7)), &want, 0.0, "copied slab");
        // Composite path: a plain concatenation.
        set_enabled(false);
        let slab = kv_append(None, 0, a);
        let slab = kv_append(Some(slab), 5, b);
        let slab = kv_append(Some(slab), 6, c);
        set_enabled(true);
        assert_eq!(slab.dims()[2], 7);
        assert_close(&vals(slab), &want, 0.0, "concatenation");
    }
}
