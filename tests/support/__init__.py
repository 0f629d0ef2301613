"""Test support shared by the suite and the benchmarks: a scripted backend (`scripted::`), a
scripted OpenAI-compatible server, the real llama_cpp.server launcher, command-line runners
and profile helpers. Import the modules (`tests.support.openai_server`…); this package
imports nothing itself, so `bench/` can use one part without loading the others."""
