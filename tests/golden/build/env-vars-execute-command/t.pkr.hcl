source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    environment_vars = ["GREETING=hello world", "QUOTE=it's", "EMPTY=", "EQ=a=b"]
    execute_command  = ["/bin/sh", "-c", "echo vars: {{.Vars}}; {{.Vars}} /bin/sh {{.Script}}"]
    inline           = ["echo \"$GREETING|$QUOTE|$EMPTY|$EQ|$PACKER_BUILD_NAME|$PACKER_BUILDER_TYPE\""]
  }

  provisioner "shell-local" {
    environment_vars = ["A=1", "B=two"]
    env_var_format   = "export %s=\"%s\"; "
    execute_command  = ["/bin/bash", "-c", "{{.Vars}} echo \"A=$A B=$B\"; /bin/sh {{.Script}}"]
    inline           = ["echo script sees $A $B"]
  }
}
