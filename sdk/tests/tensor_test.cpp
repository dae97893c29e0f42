#include "tributary/tensor.hpp"

#include <catch2/catch.hpp>

using namespace tributary;

TEST_CASE("a tensor built from a vector keeps its values, dtype and shape without copying") {
  std::vector<float> values{1, 2, 3, 4, 5, 6};
  const float* before = values.data();
  Tensor t = Tensor::from_vector(std::move(values), {2, 3});
  CHECK(t.dtype() == DType::f32);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.numel() == 6);
  CHECK(t.nbytes() == 24);
  CHECK(t.data<float>() == before);
  CHECK(t.at(5) == 6.0);
}

TEST_CASE("slices, rows and reshapes are views over the same buffer") {
  Tensor t = Tensor::from_vector(std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7}, {4, 2});
  Tensor rows = t.slice(1, 3);
  CHECK(rows.shape() == Shape{2, 2});
  CHECK(rows.data<std::int32_t>() == t.data<std::int32_t>() + 2);
  CHECK(rows.owner() == t.owner());
  Tensor row = t.select(3);
  CHECK(row.shape() == Shape{2});
  CHECK(row.at(0) == 6);
  Tensor flat = t.reshape({-1});
  CHECK(flat.shape() == Shape{8});
  CHECK(flat.raw() == t.raw());
  rows.data<std::int32_t>()[0] = 42;  // writes through the view
  CHECK(t.at(2) == 42);
}

TEST_CASE("a clone owns its own bytes") {
  Tensor t = Tensor::from_vector(std::vector<double>{1.5, 2.5});
  Tensor c = t.clone();
  c.data<double>()[0] = 9;
  CHECK(t.at(0) == 1.5);
  CHECK(c.at(0) == 9);
}

TEST_CASE("conversion between dtypes keeps values") {
  Tensor t = Tensor::from_vector(std::vector<std::int16_t>{-3, 0, 7});
  Tensor f = t.to(DType::f32);
  CHECK(f.dtype() == DType::f32);
  CHECK(f.data<float>()[0] == -3.0f);
  CHECK(f.data<float>()[2] == 7.0f);
}

TEST_CASE("wrong element type, bad shapes and out-of-range views are refused with the reason") {
  Tensor t = Tensor::zeros(DType::f32, {2, 2});
  CHECK_THROWS_WITH(t.data<double>(), "tensor holds f32, accessed as f64");
  CHECK_THROWS_WITH(t.reshape({3, 2}), "cannot reshape a tensor of shape [2, 2] to [3, 2]");
  CHECK_THROWS_WITH(t.slice(1, 3), "slice [1, 3) of a tensor of shape [2, 2]");
  CHECK_THROWS_WITH(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}),
                    "tensor shape [2, 2] holds 4 elements, but 3 were given");
  CHECK_THROWS_AS(Tensor::empty(DType::u8, {-1}), std::invalid_argument);
}

TEST_CASE("wrapped foreign memory stays alive as long as a tensor refers to it") {
  auto storage = std::make_shared<std::vector<std::uint8_t>>(16, 7);
  std::weak_ptr<std::vector<std::uint8_t>> watch = storage;
  Tensor view;
  {
    Tensor t = Tensor::wrap(storage, storage->data(), DType::u8, {4, 4});
    storage.reset();
    view = t.select(2);
  }
  CHECK_FALSE(watch.expired());
  CHECK(view.at(3) == 7);
  view = Tensor();
  CHECK(watch.expired());
}
