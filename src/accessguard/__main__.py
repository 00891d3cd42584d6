from accessguard.cli.main import app

app()
