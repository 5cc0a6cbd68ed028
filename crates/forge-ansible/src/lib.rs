//! The `ansible` provisioner (Ansible runs here, against the machine being built) and the
//! `ansible-local` provisioner (Ansible runs on the machine), with the SSH adapter that lets
//! Ansible reach a machine through any communicator.

pub mod adapter;
pub mod local;
pub mod remote;
