// ditto — interpolate (nearest and bilinear 2-D resampling): the front end (PyTorch's checks and
// output sizes) and the backward rule, each pass one kernel (kernels/upsample.h). Every output
// reads its own taps only, so the forward is batch invariant bit for bit; the backward sums each
// pixel's shares by a gather in Deterministic mode (outputs in ascending order) or scatters them
// in Fast mode.
#include "kernels/upsample.h"

#include <cmath>
#include <string>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/ops/window.h"
#include "core/profile_scope.h"

namespace ditto {

namespace {

// The output length and the inverse scale the kernels map coordinates with (0: from the sizes).
void plan_axis(const char* op, const char* axis, std::int64_t in, const OptionalSize2& size,
               bool rows, const std::optional<Scale2>& scale, const std::string& ctx,
               std::int64_t& out, double& inv_scale) {
  if (size.has_value()) {
    out = rows ? (*size).h : (*size).w;
    inv_scale = 0;
  } else {
    const double s = rows ? scale->h : scale->w;
    DITTO_CHECK(std::isfinite(s) && s > 0, op, ": scale_factor must be finite and > 0, got ", s,
                " for ", axis, " (", ctx, ")");
    const double o = std::floor(static_cast<double>(in) * s);
    DITTO_CHECK(o <= static_cast<double>(std::int64_t{1} << 31), op, ": scale_factor ", s,
                " makes the ", axis, " ", o, " long (", ctx, ")");
    out = static_cast<std::int64_t>(o);
    inv_scale = 1.0 / s;  // PyTorch maps coordinates with 1 / scale_factor when it is given
  }
  DITTO_CHECK(out >= 1 && out <= (std::int64_t{1} << 31), op, ": output ", axis,
              " must be >= 1 (and <= 2^31), got ", out, " (", ctx, ")");
}

}  // namespace

Tensor interpolate(const Tensor& x, const InterpolateOptions& o, std::optional<Mode> mode) {
  profile::OpScope scope("interpolate", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "interpolate";
  const std::string ctx = "input " + shape_str(x.shape());
  const bool bilinear = o.mode == InterpolateMode::bilinear;
  DITTO_CHECK(x.dim() == 4, op, ": ", bilinear ? "bilinear" : "nearest",
              " mode needs a 4-D (N, C, H, W) input, got ", ctx);
  DITTO_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, op,
              ": input must be f32 or f64, got ", dtype_name(x.dtype()));
  DITTO_CHECK(o.size.has_value() != o.scale_factor.has_value(), op,
              o.size.has_value() ? ": only one of size and scale_factor may be given"
                                 : ": size or scale_factor must be given",
              " (", ctx, ")");
  DITTO_CHECK(bilinear || !o.align_corners.has_value(), op,
              ": align_corners applies to the interpolating modes (bilinear) only, as in "
              "PyTorch (",
              ctx, ")");
  DITTO_CHECK(x.size(2) >= 1 && x.size(3) >= 1, op, ": input height and width must be >= 1, got ",
              ctx);
  kernels::UpsampleGeom g;
  g.N = x.size(0);
  g.C = x.size(1);
  g.H = x.size(2);
  g.W = x.size(3);
  plan_axis(op, "height", g.H, o.size, true, o.scale_factor, ctx, g.OH, g.inv_scale_h);
  plan_axis(op, "width", g.W, o.size, false, o.scale_factor, ctx, g.OW, g.inv_scale_w);
  g.bilinear = bilinear;
  g.align_corners = bilinear && o.align_corners.value_or(false);
  detail::require_kernels(x.device(), op);
  const Mode m = resolve_mode(mode);
  Tensor out = empty({g.N, g.C, g.OH, g.OW}, x.dtype(), x.device());
  kernels::upsample_kernels(x.device())
      .forward(g, detail::make_view(x, op), detail::make_view(out, op));
  if (autograd::needs_grad({&x})) {
    autograd::record(op, out, {x}, [g, m, op](const Tensor& gr) {
      const Tensor gc = gr.contiguous();
      Tensor dx = empty({g.N, g.C, g.H, g.W}, gr.dtype(), gr.device());
      kernels::upsample_kernels(gr.device())
          .backward(m, g, detail::make_view(gc, op), detail::make_view(dx, op));
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

}  // namespace ditto
