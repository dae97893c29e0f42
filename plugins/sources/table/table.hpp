#pragma once
// Rows of a CSV file (plain or gzip-compressed) as labelled examples.
//
//   [nodes.iris]
//   plugin = "table"
//   path = "/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv"
//   shuffle = true
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sampling/split_fractions.hpp"
#include "tributary/node.hpp"

namespace tributary::sources {

class Table final : public Node {
 public:
  static constexpr const char* kType = "table";
  static constexpr OutputPort kOut{"out", PayloadKind::example, "one labelled example per row: f32 [n_features]"};
  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void start() override;
  bool produce(Emitter& out) override;

 private:
  enum class HeaderMode { automatic, yes, no };

  void load();
  void shuffle_for_epoch();

  std::string path_;
  HeaderMode header_ = HeaderMode::automatic;
  std::string label_column_ = "last";
  char delimiter_ = ',';
  bool shuffle_ = false;
  std::uint64_t seed_ = 0;
  SplitFractions split_;
  std::int64_t epochs_ = 1;
  std::int64_t limit_ = 0;
  bool skip_non_finite_ = false;

  // What start() read: rows x features, row-major, shared by the tensors of every packet.
  std::size_t rows_ = 0;
  std::size_t features_ = 0;
  std::shared_ptr<std::vector<float>> values_;
  std::vector<std::int64_t> labels_;  // empty when unlabelled
  std::vector<Split> splits_;
  std::vector<std::string> classes_;
  Value classes_value_;

  std::vector<std::size_t> order_;
  std::size_t cursor_ = 0;
  std::int64_t epoch_ = 0;
  std::uint64_t sequence_ = 0;
};

}  // namespace tributary::sources
