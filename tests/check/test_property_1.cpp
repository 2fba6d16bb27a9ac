// Property test, part 2 of 4: random graphs 16 to 31, each with
// property::draws_per_graph random draws of shapes and values, pass gradcheck. (Split over
// four files to keep each one's compile time in check.)

#include "property_graphs.hpp"

TEST_CASE("property: random graphs 16-31 pass gradcheck", "[check][property]") {
    const std::size_t n = property::run_graphs<16>(std::make_index_sequence<16>{});
    CHECK(n == 16 * property::draws_per_graph);
}
