//! The `ansible-local` provisioner: runs `ansible-playbook` on the machine being built.
