[assembly: AssemblyFixture(typeof(Tests.Support.WorkerFixture))]
