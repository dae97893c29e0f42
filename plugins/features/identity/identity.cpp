#include "identity/identity.hpp"

namespace tributary::features {

void Identity::declare(NodeSpec& spec) {
  spec.summary("passes every packet on unchanged (the same packet, no copy); can drop every N-th for tests");
  spec.input(kIn);
  spec.output(kOut);
  spec.keeps_kinds(kIn, kOut);
  spec.param<std::int64_t>("drop_every", 0, "drop every N-th packet (counted in arrival order); 0 drops none").min(0);
  spec.example(R"([pipeline]
name  = "identity-demo"
links = [ "iris -> pass", "pass -> norm", "norm -> train", "train.metrics -> log" ]

[nodes.iris]
plugin  = "table"
path    = "/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv"
shuffle = true
epochs  = 20

[nodes.pass]
plugin     = "identity"
drop_every = 10

[nodes.norm]
plugin = "standardize"

[nodes.train]
plugin  = "trainer"
model   = { kind = "linear" }

[nodes.log]
plugin = "csv"
path   = "${RUN_DIR}/metrics.csv"
)");
}

void Identity::configure(const Params& params) {
  drop_every_ = static_cast<std::uint64_t>(params.get<std::int64_t>("drop_every"));
}

void Identity::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  const std::uint64_t position = ++seen_;
  if (drop_every_ != 0 && position % drop_every_ == 0) {
    ++dropped_;
    return;
  }
  out.emit(kOut, packet);
}

void Identity::flush(Emitter&) {
  const auto dropped = dropped_;
  if (dropped != 0) log().info("dropped ", dropped, " of ", seen_, " packets (drop_every = ", drop_every_, ")");
}

}  // namespace tributary::features
