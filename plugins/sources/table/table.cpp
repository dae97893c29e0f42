#include "table/table.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "sampling/seeded_random.hpp"
#include "tabular/csv_fields.hpp"

namespace tributary::sources {

namespace {

constexpr std::uint64_t kSplitStream = 1;  // sub-streams of the seed
constexpr std::uint64_t kShuffleStream = 2;

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// The whole file, decompressed when it is gzip data (gzread passes plain files through).
std::string read_text(const std::string& path) {
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno != 0 ? errno : ENOMEM));
  }
  auto zlib_failure = [&](gzFile f) {
    int code = Z_OK;
    const char* message = gzerror(f, &code);
    std::string_view reason = code == Z_ERRNO ? std::strerror(errno) : message;
    // zlib puts the path in front of its messages; ours already names it.
    const std::string prefix = path + ": ";
    if (reason.substr(0, prefix.size()) == prefix) reason.remove_prefix(prefix.size());
    std::runtime_error failure("reading " + path + " failed: " + std::string(reason));
    gzclose(f);
    return failure;
  };
  gzbuffer(file, 1 << 17);
  std::string text;
  std::vector<char> buffer(1 << 17);
  for (;;) {
    const int n = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()));
    if (n < 0) throw zlib_failure(file);
    if (n == 0) break;
    text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  int code = Z_OK;
  gzerror(file, &code);
  // A truncated stream ends the reads quietly; the error is left on the file.
  if (code != Z_OK) throw zlib_failure(file);
  const bool plain = gzdirect(file) != 0;
  const int closed = gzclose(file);
  if (closed != Z_OK) {
    throw std::runtime_error("reading " + path +
                             " failed: " + (closed == Z_ERRNO ? std::strerror(errno) : zError(closed)));
  }
  if (plain && ends_with(path, ".gz")) {
    throw std::runtime_error("reading " + path + " failed: not gzip data (no gzip header); is the file corrupt?");
  }
  return text;
}

bool parse_number(std::string_view text, double& value) {
  text = trim_blanks(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

bool is_count(std::string_view text) {
  text = trim_blanks(text);
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

struct Row {
  std::size_t line = 0;  // 1-based line number in the file
  std::vector<std::string> fields;
};

// Splits text into rows of fields: RFC 4180 quotes within a line, CRLF or LF endings, blank lines skipped.
class CsvReader {
 public:
  CsvReader(std::string_view text, char delimiter) : text_(text), delimiter_(delimiter) {}

  bool next(Row& row) {
    while (position_ < text_.size()) {
      std::size_t end = text_.find('\n', position_);
      if (end == std::string_view::npos) end = text_.size();
      std::string_view line = text_.substr(position_, end - position_);
      position_ = end + 1;
      ++line_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (trim_blanks(line).empty()) continue;
      row.line = line_;
      split(line, row.fields);
      return true;
    }
    return false;
  }

 private:
  void split(std::string_view line, std::vector<std::string>& fields) const {
    split_csv_line(line, delimiter_, fields);
  }

  std::string_view text_;
  char delimiter_;
  std::size_t position_ = 0;
  std::size_t line_ = 0;
};

struct LabelCell {
  std::string text;
  std::size_t line;
};

}  // namespace

void Table::declare(NodeSpec& spec) {
  spec.summary("rows of a CSV or gzip-compressed CSV file as labelled examples, with deterministic splits");
  spec.output(kOut);
  spec.source(SourceMode::pull);
  spec.required<std::string>("path", "the CSV file; .csv.gz and other gzip files are decompressed as they are read")
      .input_path();
  spec.param<std::string>("header", "auto",
                          "whether the first row is a header: auto recognises a row of column names or the "
                          "scikit-learn count row (\"150,4,setosa,versicolor,virginica\"), yes, or no")
      .choices({"auto", "yes", "no"});
  spec.param<std::string>("label_column", "last",
                          "the label's column: a header name, a 0-based index such as \"4\", \"last\", or \"none\" "
                          "for unlabelled rows; integer labels are used as they are, names become indices in order "
                          "of first appearance");
  spec.param<std::string>("delimiter", ",", "the field separator, one character");
  spec.param<bool>("shuffle", false, "shuffle the rows, differently but deterministically in each epoch");
  spec.param<std::int64_t>("seed", 0, "random seed for shuffling and for assigning splits");
  SplitFractions::declare(spec);
  spec.param<std::int64_t>("epochs", 1, "passes over the rows").min(1);
  spec.param<std::int64_t>("limit", 0, "read at most this many data rows; 0 = all").min(0);
  spec.param<std::string>("non_finite", "error",
                          "a feature that is NaN or infinite (or beyond a 32-bit float): error names its line and "
                          "column, skip leaves its row out and counts it")
      .choices({"error", "skip"});
  spec.example(R"([nodes.iris]
plugin = "table"
path = "/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv"
shuffle = true
epochs = 10)");
}

void Table::configure(const Params& params) {
  path_ = params.get<std::string>("path");
  if (path_.empty()) throw ParamError("path", "'path' is empty: name the CSV file to read");
  const auto header = params.get<std::string>("header");
  header_ = header == "yes" ? HeaderMode::yes : header == "no" ? HeaderMode::no : HeaderMode::automatic;
  label_column_ = params.get<std::string>("label_column");
  if (label_column_.empty()) {
    throw ParamError("label_column",
                     "'label_column' is empty: give a header name, a 0-based index, \"last\" or \"none\"");
  }
  const bool by_name = label_column_ != "last" && label_column_ != "none" && !is_count(label_column_);
  if (by_name && header_ == HeaderMode::no) {
    throw ParamError("label_column", "'label_column' names a column (\"" + label_column_ +
                                         "\") but header = \"no\": give a 0-based index or \"last\", or let the "
                                         "header be read");
  }
  const auto delimiter = params.get<std::string>("delimiter");
  if (delimiter.size() != 1 || delimiter == "\"" || delimiter == "\n" || delimiter == "\r") {
    throw ParamError("delimiter", "'delimiter' is \"" + delimiter +
                                      "\": it must be one character other than a quote or a line break, e.g. "
                                      "\",\", \";\" or \"\\t\"");
  }
  delimiter_ = delimiter[0];
  shuffle_ = params.get<bool>("shuffle");
  seed_ = static_cast<std::uint64_t>(params.get<std::int64_t>("seed"));
  split_ = SplitFractions::from(params);
  epochs_ = params.get<std::int64_t>("epochs");
  limit_ = params.get<std::int64_t>("limit");
  skip_non_finite_ = params.get<std::string>("non_finite") == "skip";
}

void Table::start() {
  load();
  splits_ = split_.assign(rows_, SeededRandom::derive(seed_, kSplitStream));
  order_.resize(rows_);
  cursor_ = 0;
  epoch_ = 0;
  sequence_ = 0;
  log().info("read ", rows_, " rows of ", features_, " features", labels_.empty() ? " (unlabelled)" : "",
             classes_.empty() ? "" : concat(" in ", classes_.size(), " classes"), " from ", path_);
}

void Table::load() {
  const std::string text = read_text(path_);
  CsvReader reader(text, delimiter_);
  Row first;
  Row second;
  if (!reader.next(first)) throw std::runtime_error(path_ + ": the file holds no rows");
  const bool has_second = reader.next(second);

  // The scikit-learn layout: "n_rows,n_features,class names..." above the data rows, which are either of
  // another width or n_features + 1 wide (iris: 4 features, a label and 3 class names make 5 both ways).
  bool count_row = has_second && first.fields.size() >= 2 && is_count(first.fields[0]) && is_count(first.fields[1]);
  if (count_row) {
    double ignored = 0.0;
    const bool names_after = std::none_of(first.fields.begin() + 2, first.fields.end(),
                                          [&](const std::string& f) { return parse_number(f, ignored); });
    const bool other_width = first.fields.size() != second.fields.size();
    const bool features_fit = first.fields[1].size() < 10 && std::stoul(first.fields[1]) + 1 == second.fields.size();
    count_row = names_after && (other_width || features_fit);
  }
  bool first_is_data = true;
  bool names_row = false;
  if (header_ == HeaderMode::yes) {
    first_is_data = false;
    names_row = !count_row;
  } else if (header_ == HeaderMode::automatic) {
    double ignored = 0.0;
    const bool has_text = std::any_of(first.fields.begin(), first.fields.end(),
                                      [&](const std::string& f) { return !parse_number(f, ignored); });
    first_is_data = !count_row && !has_text;
    names_row = !count_row && has_text;
  }

  std::vector<std::string> names;
  std::int64_t announced_rows = -1;
  classes_.clear();
  if (names_row) {
    names = first.fields;
  } else if (!first_is_data) {
    const std::string& announced = first.fields[0];
    announced_rows = announced.size() > 18 ? -1 : std::stoll(announced);
    classes_.assign(first.fields.begin() + 2, first.fields.end());
  }

  std::vector<const Row*> leading;
  if (first_is_data) leading.push_back(&first);
  if (has_second) leading.push_back(&second);
  if (leading.empty()) throw std::runtime_error(path_ + ": no data rows after the header");
  const std::size_t columns = names_row ? names.size() : leading.front()->fields.size();

  std::ptrdiff_t label_index = -1;
  if (label_column_ == "last") {
    label_index = static_cast<std::ptrdiff_t>(columns) - 1;
  } else if (is_count(label_column_)) {
    const auto index = label_column_.size() > 18 ? columns : std::stoull(label_column_);
    if (index >= columns) {
      throw std::runtime_error(path_ + ": label_column " + label_column_ + " is out of range: rows have " +
                               std::to_string(columns) + " columns (0.." + std::to_string(columns - 1) + ")");
    }
    label_index = static_cast<std::ptrdiff_t>(index);
  } else if (label_column_ != "none") {
    const auto it = std::find(names.begin(), names.end(), label_column_);
    if (it == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + quoted(n);
      throw std::runtime_error(
          path_ + ": label_column \"" + label_column_ + "\" is not a column name; " +
          (names.empty() ? std::string("the file has no row of column names: use a 0-based index or \"last\"")
                         : "the header has " + known));
    }
    label_index = it - names.begin();
  }
  features_ = columns - (label_index >= 0 ? 1 : 0);
  if (features_ == 0) throw std::runtime_error(path_ + ": no feature columns besides the label column");

  auto column_text = [&](std::size_t k) {
    return "column " + std::to_string(k) + (names.empty() ? std::string() : " (" + quoted(names[k]) + ")");
  };
  auto values = std::make_shared<std::vector<float>>();
  std::vector<LabelCell> label_cells;
  rows_ = 0;
  std::size_t skipped = 0;
  auto add_row = [&](const Row& row) {
    const std::string where = path_ + ":" + std::to_string(row.line) + ": ";
    if (row.fields.size() != columns) {
      throw std::runtime_error(where + "expected " + std::to_string(columns) + " columns, found " +
                               std::to_string(row.fields.size()));
    }
    const std::size_t values_before = values->size();
    const std::size_t labels_before = label_cells.size();
    for (std::size_t k = 0; k < columns; ++k) {
      if (static_cast<std::ptrdiff_t>(k) == label_index) {
        label_cells.push_back({row.fields[k], row.line});
        continue;
      }
      double value = 0.0;
      if (!parse_number(row.fields[k], value)) {
        throw std::runtime_error(where + column_text(k) + " is not a number: " + quoted(row.fields[k]));
      }
      const auto stored = static_cast<float>(value);
      if (!std::isfinite(stored)) {
        if (!skip_non_finite_) {
          throw std::runtime_error(
              where + column_text(k) + " is " + quoted(row.fields[k]) +
              (std::isfinite(value) ? ", beyond the range of a 32-bit float" : ", not a finite number") +
              ": fix the file, or set non_finite = \"skip\" to leave such rows out");
        }
        values->resize(values_before);
        label_cells.resize(labels_before);
        ++skipped;
        return;
      }
      values->push_back(stored);
    }
    ++rows_;
  };
  auto full = [&] { return limit_ > 0 && rows_ >= static_cast<std::size_t>(limit_); };
  for (const Row* row : leading) {
    if (!full()) add_row(*row);
  }
  Row row;
  while (!full() && reader.next(row)) add_row(row);
  if (skipped > 0) log().warn(path_, ": skipped ", skipped, " rows holding NaN or infinite features");

  labels_.clear();
  if (label_index >= 0) {
    const auto label_column = static_cast<std::size_t>(label_index);
    double ignored = 0.0;
    const bool numeric = std::all_of(label_cells.begin(), label_cells.end(),
                                     [&](const LabelCell& cell) { return parse_number(cell.text, ignored); });
    labels_.reserve(label_cells.size());
    if (numeric) {
      for (const auto& cell : label_cells) {
        double value = 0.0;
        parse_number(cell.text, value);
        if (value != std::floor(value) || std::abs(value) > 9.0e15) {
          throw std::runtime_error(path_ + ":" + std::to_string(cell.line) + ": the label in " +
                                   column_text(label_column) + " is " + quoted(cell.text) +
                                   ", not a whole number: labels must be integers or class names");
        }
        labels_.push_back(static_cast<std::int64_t>(value));
      }
    } else {
      // Class names: those of a scikit-learn header keep their indices, others follow in order of appearance.
      std::unordered_map<std::string, std::int64_t> index;
      for (std::size_t i = 0; i < classes_.size(); ++i) index.emplace(classes_[i], static_cast<std::int64_t>(i));
      for (const auto& cell : label_cells) {
        if (cell.text.empty()) {
          throw std::runtime_error(path_ + ":" + std::to_string(cell.line) + ": the label in " +
                                   column_text(label_column) + " is empty");
        }
        auto [it, added] = index.emplace(cell.text, static_cast<std::int64_t>(classes_.size()));
        if (added) classes_.push_back(cell.text);
        labels_.push_back(it->second);
      }
    }
  }
  if (announced_rows >= 0 && limit_ == 0 && static_cast<std::size_t>(announced_rows) != rows_) {
    log().warn(path_, ": the header announces ", announced_rows, " rows but the file holds ", rows_);
  }

  values_ = std::move(values);
  classes_value_ = classes_.empty() ? Value() : Value(std::vector<Value>(classes_.begin(), classes_.end()));
}

void Table::shuffle_for_epoch() { epoch_order(order_, shuffle_, seed_, kShuffleStream, epoch_); }

bool Table::produce(Emitter& out) {
  if (!values_) start();
  if (rows_ == 0 || epoch_ >= epochs_) return false;
  if (cursor_ == 0) {
    shuffle_for_epoch();
    log().debug("epoch ", epoch_ + 1, " of ", epochs_, ": ", rows_, " rows", shuffle_ ? ", shuffled" : "");
  }
  const std::size_t row = order_[cursor_];

  auto packet = make_packet(PayloadKind::example);
  packet->stream = path_;
  packet->sequence = sequence_++;
  float* data = values_->data() + row * features_;
  packet->tensors.push_back(Tensor::wrap(values_, data, DType::f32, {static_cast<std::int64_t>(features_)}));
  if (!labels_.empty()) packet->label = labels_[row];
  packet->split = splits_[row];
  packet->set_attribute("epoch", epoch_);
  packet->set_attribute("epochs", epochs_);
  packet->set_attribute("row", static_cast<std::int64_t>(row));
  if (!classes_value_.is_none()) packet->set_attribute("classes", classes_value_);
  out.emit(kOut, packet);

  if (++cursor_ == rows_) {
    // Every split ends with the pass: its split_end markers (for the splits it holds), then epoch_end.
    for (Split split : {Split::train, Split::val, Split::test}) {
      if (std::find(splits_.begin(), splits_.end(), split) != splits_.end()) {
        out.mark(Marker{MarkerKind::split_end, epoch_, split, path_});
      }
    }
    out.mark(Marker{MarkerKind::epoch_end, epoch_, Split::none, path_});
    cursor_ = 0;
    ++epoch_;
  }
  return true;
}

}  // namespace tributary::sources
