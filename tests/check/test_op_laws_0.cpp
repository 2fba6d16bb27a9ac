// Gradient laws, part 1 of 4: the ops of the registry at index 0 modulo 4 (op_laws.hpp).

#include "op_laws.hpp"

FUSEGRAD_OP_LAWS_PART(0)
