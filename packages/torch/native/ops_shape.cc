// Views, reshapes, joins, splits and indexing.
#include "common.h"

using namespace cdt;

CDT_FN(reshape) { return Wrap(info.Env(), T(info, 0).reshape(IntList(info, 1))); }
CDT_FN(view) { return Wrap(info.Env(), T(info, 0).view(IntList(info, 1))); }
CDT_FN(permute) { return Wrap(info.Env(), T(info, 0).permute(IntList(info, 1))); }
CDT_FN(transpose) { return Wrap(info.Env(), T(info, 0).transpose(Int(info, 1), Int(info, 2))); }
CDT_FN(flatten) { return Wrap(info.Env(), T(info, 0).flatten(Int(info, 1), Int(info, 2))); }
CDT_FN(squeeze) {
  auto dim = OptInt(info, 1);
  return Wrap(info.Env(), dim ? T(info, 0).squeeze(*dim) : T(info, 0).squeeze());
}
CDT_FN(unsqueeze) { return Wrap(info.Env(), T(info, 0).unsqueeze(Int(info, 1))); }
CDT_FN(expand) { return Wrap(info.Env(), T(info, 0).expand(IntList(info, 1))); }
CDT_FN(repeat) { return Wrap(info.Env(), T(info, 0).repeat(IntList(info, 1))); }
CDT_FN(repeatInterleave) { return Wrap(info.Env(), T(info, 0).repeat_interleave(Int(info, 1), OptInt(info, 2))); }
CDT_FN(flip) { return Wrap(info.Env(), T(info, 0).flip(IntList(info, 1))); }
CDT_FN(roll) { return Wrap(info.Env(), T(info, 0).roll(IntList(info, 1), IntList(info, 2))); }
CDT_FN(tril) { return Wrap(info.Env(), T(info, 0).tril(Int(info, 1))); }
CDT_FN(triu) { return Wrap(info.Env(), T(info, 0).triu(Int(info, 1))); }

CDT_FN(cat) { return Wrap(info.Env(), at::cat(TensorList(info, 0), Int(info, 1))); }
CDT_FN(stack) { return Wrap(info.Env(), at::stack(TensorList(info, 0), Int(info, 1))); }
CDT_FN(chunk) { return WrapList(info.Env(), T(info, 0).chunk(Int(info, 1), Int(info, 2))); }
// split(t, size | sizes[], dim)
CDT_FN(split) {
  if (info[1].IsNumber()) return WrapList(info.Env(), T(info, 0).split(Int(info, 1), Int(info, 2)));
  return WrapList(info.Env(), T(info, 0).split_with_sizes(IntList(info, 1), Int(info, 2)));
}
CDT_FN(unbind) { return WrapList(info.Env(), T(info, 0).unbind(Int(info, 1))); }
CDT_FN(narrow) { return Wrap(info.Env(), T(info, 0).narrow(Int(info, 1), Int(info, 2), Int(info, 3))); }
CDT_FN(select) { return Wrap(info.Env(), T(info, 0).select(Int(info, 1), Int(info, 2))); }
// slice(t, dim, start, end, step): a view, like Python's t[:, start:end:step].
CDT_FN(slice) { return Wrap(info.Env(), T(info, 0).slice(Int(info, 1), OptInt(info, 2), OptInt(info, 3), Int(info, 4))); }
CDT_FN(indexSelect) { return Wrap(info.Env(), T(info, 0).index_select(Int(info, 1), T(info, 2))); }
// index(t, [idx0, idx1, ...]): advanced indexing on the leading dims, like t[idx0, idx1].
CDT_FN(index) {
  auto list = TensorList(info, 1);
  c10::List<c10::optional<at::Tensor>> indices;
  for (auto& i : list) indices.push_back(i);
  return Wrap(info.Env(), T(info, 0).index(indices));
}
CDT_FN(indexPut_) {
  auto list = TensorList(info, 1);
  c10::List<c10::optional<at::Tensor>> indices;
  for (auto& i : list) indices.push_back(i);
  T(info, 0).index_put_(indices, T(info, 2), Bool(info, 3));
  return info[0];
}
CDT_FN(gather) { return Wrap(info.Env(), T(info, 0).gather(Int(info, 1), T(info, 2))); }
CDT_FN(scatter) { return Wrap(info.Env(), T(info, 0).scatter(Int(info, 1), T(info, 2), T(info, 3))); }
CDT_FN(scatterAdd) { return Wrap(info.Env(), T(info, 0).scatter_add(Int(info, 1), T(info, 2), T(info, 3))); }
CDT_FN(indexAdd) { return Wrap(info.Env(), T(info, 0).index_add(Int(info, 1), T(info, 2), T(info, 3))); }
CDT_FN(oneHot) { return Wrap(info.Env(), at::one_hot(T(info, 0), Int(info, 1))); }
CDT_FN(nonzero) { return Wrap(info.Env(), T(info, 0).nonzero()); }
