#include "tributary/node.hpp"

#include <cstring>
#include <stdexcept>

#include "tributary/plugin.hpp"

namespace tributary {

Logger::~Logger() = default;
Context::~Context() = default;
Emitter::~Emitter() = default;
Node::~Node() = default;
PluginRegistrar::~PluginRegistrar() = default;

ControlReply Node::on_control(const ControlMessage& message, Emitter& out) {
  (void)out;
  ControlReply reply =
      ControlReply::refuse(std::string("this node type does not handle '") + to_string(message.verb) + "'");
  reply.handled = false;
  return reply;
}

const char* to_string(MarkerKind kind) noexcept {
  switch (kind) {
    case MarkerKind::epoch_end:
      return "epoch_end";
    case MarkerKind::split_end:
      return "split_end";
    case MarkerKind::end_of_stream:
      return "end_of_stream";
  }
  return "unknown";
}

Context& Node::context() const {
  if (context_ == nullptr) throw std::logic_error("node used before the runtime bound a context to it");
  return *context_;
}

ParamSpec& ParamBuilder::spec() { return spec_->params()[index_]; }
const char* to_string(Concurrency c) noexcept {
  switch (c) {
    case Concurrency::serial:
      return "serial";
    case Concurrency::parallel:
      return "parallel";
    case Concurrency::ordered:
      return "ordered";
  }
  return "serial";
}

ParamBuilder& ParamBuilder::range(double min, double max) {
  spec().min = min;
  spec().max = max;
  return *this;
}
ParamBuilder& ParamBuilder::min(double min) {
  spec().min = min;
  return *this;
}
ParamBuilder& ParamBuilder::max(double max) {
  spec().max = max;
  return *this;
}
ParamBuilder& ParamBuilder::choices(std::vector<std::string> choices) {
  spec().choices = std::move(choices);
  return *this;
}
ParamBuilder& ParamBuilder::settable() {
  spec().settable = true;
  return *this;
}

ParamBuilder& ParamBuilder::input_path() {
  spec().path = PathRole::input;
  return *this;
}
ParamBuilder& ParamBuilder::output_path() {
  spec().path = PathRole::output;
  return *this;
}
ParamBuilder& ParamBuilder::input_folder() {
  spec().path = PathRole::input_folder;
  return *this;
}
ParamBuilder& ParamBuilder::output_folder() {
  spec().path = PathRole::output_folder;
  return *this;
}
ParamBuilder& ParamBuilder::input_file_or_folder() {
  spec().path = PathRole::input_any;
  return *this;
}
ParamBuilder& ParamBuilder::path_key(std::string key, PathRole role) {
  spec().path_keys.emplace_back(std::move(key), role);
  return *this;
}

ParamBuilder NodeSpec::add(ParamSpec spec) {
  if (find_param(spec.name) != nullptr) throw std::logic_error("parameter '" + spec.name + "' declared twice");
  params_.push_back(std::move(spec));
  return ParamBuilder(*this, params_.size() - 1);
}

const InputPort* NodeSpec::find_input(std::string_view name) const noexcept {
  for (const auto* p : inputs_) {
    if (name == p->name) return p;
  }
  return nullptr;
}

const OutputPort* NodeSpec::find_output(std::string_view name) const noexcept {
  for (const auto* p : outputs_) {
    if (name == p->name) return p;
  }
  return nullptr;
}

const ParamSpec* NodeSpec::find_param(std::string_view name) const noexcept {
  for (const auto& p : params_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace tributary
