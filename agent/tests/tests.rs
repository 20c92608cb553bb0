//! Integration tests of mask-agent.
