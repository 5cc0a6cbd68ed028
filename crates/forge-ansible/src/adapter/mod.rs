//! The SSH adapter: a local SSH server that runs what Ansible asks through the build's communicator.
