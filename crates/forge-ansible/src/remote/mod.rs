//! The `ansible` provisioner: runs `ansible-playbook` here, against the machine being built.
