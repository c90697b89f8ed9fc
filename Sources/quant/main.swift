import ArgumentParser
QuantCommand.main()
