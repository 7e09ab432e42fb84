"""The built-in demo organisation: a deterministic company whose LLM traffic, provider usage and
provider bills tokenspend ingests in demo mode (`TOKENSPEND_MODE=demo`, `make run`).

It is a deployment of its own, apart from the live one: its own warehouse file and landing folder
(`TOKENSPEND_DEMO_DIR`, default `warehouse/demo`), and its definitions are added to the code location
only in demo mode (`definitions.py`). Nothing outside this package imports it but that wiring, the CLI
and the tests.

- `generator` builds the organisation's files under the demo's landing folder;
- `provider` answers the OpenAI and Anthropic admin API requests from them;
- `transport` plugs `provider` into a `requests` session, and `resources` gives the provider resources
  that transport, so demo pages travel through the same paging and parsing code as real ones;
- `assets` is the asset that generates the organisation; `definitions` wires it all in.
"""
