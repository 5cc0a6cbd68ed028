# The smallest build: no machine at all. The null builder with communicator "none" gives
# provisioners nothing to connect to, so shell-local runs the commands on this machine.
# Runs anywhere forge runs:  forge build examples/local
variable "greeting" {
  type        = string
  default     = "hello from forge"
  description = "What the build prints; try -var greeting=... or PKR_VAR_greeting=..."
}

source "null" "here" {
  communicator = "none"
}

build {
  sources = ["source.null.here"]

  provisioner "shell-local" {
    inline = [
      "echo '${var.greeting}'",
      "echo \"running as $(id -un) on $(uname -sm)\"",
    ]
  }
}
