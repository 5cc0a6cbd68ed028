variable "who" {
  type = string
}
variable "token" {
  type      = string
  sensitive = true
}
locals {
  greeting = "hello ${var.who}"
}
source "null" "x" {
  communicator = "none"
}
build {
  sources = ["source.null.x"]
  provisioner "shell-local" {
    inline = ["echo ${local.greeting}", "echo token ${var.token}", "echo ${upper(var.who)}"]
  }
}
