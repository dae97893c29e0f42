// A feature node written outside the Tributary tree: reverses the order of the features.
#include <algorithm>
#include <tributary/sdk.hpp>

namespace {

class Reverse final : public tributary::Node {
 public:
  static constexpr const char* kType = "reverse";
  static constexpr tributary::InputPort kIn{"in", tributary::PayloadKind::example | tributary::PayloadKind::features,
                                            "features (f32)"};
  static constexpr tributary::OutputPort kOut{"out", tributary::PayloadKind::example | tributary::PayloadKind::features,
                                              "the features in reverse order"};
  static void declare(tributary::NodeSpec& spec) {
    spec.summary("reverses the order of tensor 0's elements");
    spec.input(kIn);
    spec.output(kOut);
    spec.concurrency(tributary::Concurrency::parallel);
  }
  void process(const tributary::InputPort&, const tributary::PacketPtr& packet, tributary::Emitter& out) override {
    auto result = std::make_shared<tributary::Packet>(*packet);
    tributary::Tensor t = packet->tensors.at(0).to(tributary::DType::f32).clone();
    std::reverse(t.data<float>(), t.data<float>() + t.numel());
    result->tensors.at(0) = t;
    out.emit(kOut, result);
  }
};

}  // namespace

TRIBUTARY_PLUGIN("third-party") { registrar.add<Reverse>(); }
