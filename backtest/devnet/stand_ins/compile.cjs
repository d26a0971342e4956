// The stand-ins compile with the project's solc driver (contracts/compile.cjs: standard JSON on stdin).
require("../../../contracts/compile.cjs");
