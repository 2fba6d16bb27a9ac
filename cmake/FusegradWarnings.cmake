# Warning flags for fusegrad's tests, examples and header check. Never linked into the library
# itself (a consumer must not inherit -Werror).
#
#   target_link_libraries(<target> PRIVATE fusegrad_warnings)
#
# Under FUSEGRAD_SANITIZE the warnings stay but -Werror is dropped: GCC's manual recommends
# against combining -Werror with sanitizers, which raise false positives (g++ 12 +
# -fsanitize=address gives a bogus -Wmaybe-uninitialized inside libstdc++'s <regex>, for
# example). The non-sanitized build keeps -Werror, so no warning goes unnoticed.
if(TARGET fusegrad_warnings)
    return()
endif()

add_library(fusegrad_warnings INTERFACE)
target_compile_options(fusegrad_warnings INTERFACE
    -Wall -Wextra
    $<$<NOT:$<BOOL:${FUSEGRAD_SANITIZE}>>:-Werror>
    # g++ 12 at -O2/-O3 gives a false -Warray-bounds inside xtensor's xstorage.hpp (see FACTS.md).
    $<$<CXX_COMPILER_ID:GNU>:-Wno-array-bounds>
    # g++ 12 only (GCC PR105329/PR105651): `"(" + std::to_string(n)` at -O2/-O3 gives a bogus
    # -Wrestrict ("__builtin_memcpy accessing 9223372036854775810 or more bytes") from inside
    # libstdc++'s basic_string.
    $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
